import type { PeerRow } from './peer-harness';
import type { PeerEnv } from './queries';
export async function demoScenarios(_env: PeerEnv, _counts: { records: number; writes: number }): Promise<PeerRow[]> { return []; }
