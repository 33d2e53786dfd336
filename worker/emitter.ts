/** A typed event emitter: the way the sync parts tell each other what happened. */
export class Emitter<Events extends Record<string, unknown>> {
  private readonly listeners: { [K in keyof Events]?: ((event: Events[K]) => void)[] } = {};

  on<K extends keyof Events>(type: K, listener: (event: Events[K]) => void): void {
    (this.listeners[type] ??= []).push(listener);
  }

  /** Calls the listeners in the order they were added, synchronously. */
  emit<K extends keyof Events>(type: K, event: Events[K]): void {
    for (const listener of this.listeners[type] ?? []) listener(event);
  }
}
