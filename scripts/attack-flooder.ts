/**
 * The flooding sockets of `npm run attack`, in a process of their own: flooding as fast as
 * possible keeps a process busy, and the health checks that are timed must not wait behind it.
 * `node --import tsx scripts/attack-flooder.ts <syncUrl> <sockets> <seconds>`; prints the frame count.
 */
import { floodEmptyFrames, openDeaf } from '../test/helpers/memory';

const [url = '', sockets = '3', seconds = '30'] = process.argv.slice(2);
const open = await Promise.all(Array.from({ length: Number(sockets) }, () => openDeaf(url)));
const deadline = Date.now() + Number(seconds) * 1000;
const sent = await Promise.all(open.map((socket) => floodEmptyFrames(socket, () => Date.now() > deadline)));
for (const socket of open) socket.terminate();
console.log(sent.reduce((a, b) => a + b, 0));
