/** A runtime that outlives its tabs (a SharedWorker kept by a page in the back/forward cache)
 *  closes the socket once the last tab has been gone for `delay`, and opens it for the next. */
import type { Clock, Timer } from '../clock';
import type { SyncEngine } from '../sync/engine';

export class IdleDisconnect {
  private timer: Timer | undefined;

  constructor(
    private readonly engine: Pick<SyncEngine, 'block' | 'unblock'>,
    private readonly delay: number,
    private readonly clock: Clock,
  ) {}

  tabsChanged(count: number): void {
    this.clock.clear(this.timer);
    if (count > 0) this.engine.unblock('no_tabs');
    else this.timer = this.clock.setTimeout(() => this.engine.block('no_tabs'), this.delay);
  }

  close(): void {
    this.clock.clear(this.timer);
  }
}
