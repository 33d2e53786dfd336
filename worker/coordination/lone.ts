/**
 * A runtime by itself: no other runtime shares its data (a dedicated worker whose data is in
 * memory), so it leads from the start, and has nobody to tell anything.
 */
import type { SyncStatus } from '../../protocol/tab-api';
import { Emitter } from '../events';
import type { Coordination, CoordinationEvents } from './coordination';
import type { WriteCall } from './write-forwarding';

export class Lone implements Coordination {
  readonly events = new Emitter<CoordinationEvents>();
  readonly sharesOutbox = false;
  readonly outlivesTabs = false;
  private run: (call: WriteCall) => Promise<void> = () => Promise.resolve();

  constructor(private readonly status: { get(): SyncStatus }) {}

  mode(): 'leader' {
    return 'leader';
  }

  leading(): boolean {
    return true;
  }

  shown(): SyncStatus {
    return this.status.get();
  }

  async settled(): Promise<void> {}

  begin(): void {}

  async lead(): Promise<void> {}

  write(call: WriteCall): Promise<void> {
    return this.run(call);
  }

  writeWith(run: (call: WriteCall) => Promise<void>): void {
    this.run = run;
  }

  statusChanged(): void {
    this.events.emit('shown', this.shown());
  }

  committed(): void {}
  started(): void {}
  credentialsUpdated(): void {}
  credentialsNotFound(): void {}
  namespaceMoved(): void {}
  cleared(): void {}
  close(): void {}
  release(): void {}
}
