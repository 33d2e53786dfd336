/**
 * A tiny typed event emitter: how the worker's parts tell each other what happened without
 * holding each other (compose wires who listens). Events may be marked `held`: one raised
 * before anything listens waits for the first listener (the database may ask to be let go
 * before the runtime that would let go of it is built).
 */
type Handler<T> = (payload: T) => void | Promise<void>;

/** `undefined` payloads are emitted without an argument. */
type Payload<T> = [T] extends [undefined] ? [] : [T];

export class Emitter<Events extends Record<string, unknown>> {
  private readonly handlers = new Map<keyof Events, Handler<never>[]>();
  private readonly held = new Map<keyof Events, unknown[]>();

  /** `held`: the events that wait for their first listener when raised before it. */
  constructor(held: readonly (keyof Events)[] = []) {
    for (const type of held) this.held.set(type, []);
  }

  on<K extends keyof Events>(type: K, handler: Handler<Events[K]>): void {
    const list = this.handlers.get(type) ?? [];
    list.push(handler as Handler<never>);
    this.handlers.set(type, list);
    const waiting = this.held.get(type);
    if (!waiting) return;
    this.held.delete(type);
    for (const payload of waiting) void handler(payload as Events[K]);
  }

  /** Tells every listener, without waiting for any. */
  emit<K extends keyof Events>(type: K, ...payload: Payload<Events[K]>): void {
    void this.call(type, payload);
  }

  /** Tells every listener, and settles once the ones that work asynchronously are done. */
  async settle<K extends keyof Events>(type: K, ...payload: Payload<Events[K]>): Promise<void> {
    await Promise.all(this.call(type, payload));
  }

  private call(type: keyof Events, [payload]: unknown[]): unknown[] {
    const list = this.handlers.get(type);
    if (!list) {
      this.held.get(type)?.push(payload);
      return [];
    }
    return list.map((handler) => (handler as Handler<unknown>)(payload));
  }
}
