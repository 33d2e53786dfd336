/** Fills a namespace on the sync server through the protocol, as another device would have. */
import { WebSocket } from 'ws';

type Frame = { type: string };

/** Pushes `count` records (`recordOf(i)`) into `repository`, 500 per batch, awaiting each ack. */
export async function seedNamespace(serverUrl: string, token: string, repository: string, count: number, recordOf: (i: number) => { id: string }): Promise<void> {
  const socket = new WebSocket(`${serverUrl.replace('http', 'ws')}/sync`);
  await new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('error', reject); });
  const replies: ((frame: Frame) => void)[] = [];
  socket.on('message', (raw) => replies.shift()?.(JSON.parse(String(raw)) as Frame));
  const send = (message: object) => new Promise<Frame>((resolve) => { replies.push(resolve); socket.send(JSON.stringify(message)); });
  try {
    if ((await send({ type: 'auth', token })).type !== 'auth_success') throw new Error(`seeding ${token}: auth failed`);
    const createdAt = new Date().toISOString();
    for (let start = 0; start < count; start += 500) {
      const events = Array.from({ length: Math.min(500, count - start) }, (_, k) => {
        const record = recordOf(start + k);
        return { eventId: `${token}-${start + k}`, dataId: record.id, operation: 0, createdAt, data: record };
      });
      const reply = await send({ type: 'push_events_batch', repository, events });
      if (reply.type !== 'ack') throw new Error(`seeding ${token}: ${JSON.stringify(reply)}`);
    }
  } finally {
    socket.close();
  }
}
