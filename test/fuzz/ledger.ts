/**
 * What the fuzz connections pushed and what the server said about it, and the audit of the
 * event log against it once the server has stopped.
 */
import * as v from 'valibot';
import {
  decodeFrame,
  MAX_SERVER_FRAME_BYTES,
  REPOSITORY_NAME,
  ServerMessageSchema,
  SyncEventSchema,
  type SequencedEvent,
  type SyncEvent,
} from '../../protocol';
import type { EventStore } from '../../server/store/event-store';
import { preview, type Violations } from './report';

const LOG_PAGE = 5000;

export class Ledger {
  /** eventId → each version (as `contentOf`) pushed by a connection that may have been authenticated. */
  private readonly versions = new Map<string, Set<string>>();
  /** eventId → the namespaces whose acks named it. */
  private readonly acked = new Map<string, Set<string>>();
  /** Answered `unauthenticated`. */
  private readonly refused = new Set<string>();
  /** Pushed by a connection that never held a good token (the same ids may come from others too). */
  private readonly outsiders = new Set<string>();
  /** eventId → the namespaces a broadcast carrying it was delivered in. */
  private readonly broadcast = new Map<string, Set<string>>();

  /** A valid push that may be stored (acked, or unanswered when its socket closed). */
  mayBeStored(events: readonly SyncEvent[]): void {
    for (const event of events) addTo(this.versions, event.eventId, contentOf(event));
  }

  /** Whether a connection that may have been authenticated pushed this eventId (in a valid push). */
  wasPushed(eventId: string): boolean {
    return this.versions.has(eventId);
  }

  ackedIn(namespace: string, events: readonly SyncEvent[]): void {
    this.mayBeStored(events);
    for (const { eventId } of events) addTo(this.acked, eventId, namespace);
  }

  refusedUnauthenticated(events: readonly SyncEvent[]): void {
    for (const { eventId } of events) this.refused.add(eventId);
  }

  pushedByOutsider(events: readonly SyncEvent[]): void {
    for (const { eventId } of events) this.outsiders.add(eventId);
  }

  broadcastIn(namespace: string, events: readonly SyncEvent[]): void {
    for (const { eventId } of events) addTo(this.broadcast, eventId, namespace);
  }

  /**
   * Reads every namespace's log and checks it against what was sent: only valid events from
   * authenticated connections, stored as sent, servable to a client, every ack honoured.
   */
  async audit(store: EventStore, namespaces: readonly string[], violations: Violations): Promise<{ storedEvents: number }> {
    const storedIn = new Map<string, Set<string>>();
    let storedEvents = 0;
    for (const namespace of namespaces) {
      let after = 0;
      for (;;) {
        const logged = await store.readLog(namespace, after, LOG_PAGE);
        for (const { repository, event } of logged) {
          storedEvents++;
          if (event.serverSequence <= after) violations.add(`${namespace}: sequence ${event.serverSequence} after ${after} is not increasing`);
          after = event.serverSequence;
          addTo(storedIn, event.eventId, namespace);
          this.auditEvent(namespace, repository, event, violations);
        }
        if (logged.length < LOG_PAGE) break;
      }
    }
    for (const [eventId, ackedNamespaces] of this.acked) {
      for (const namespace of ackedNamespaces) {
        if (!storedIn.get(eventId)?.has(namespace)) violations.add(`acked event ${eventId} is not stored in ${namespace}`);
      }
    }
    for (const [eventId, deliveredIn] of this.broadcast) {
      for (const namespace of deliveredIn) {
        if (!storedIn.get(eventId)?.has(namespace)) violations.add(`event ${eventId} was broadcast in ${namespace}, where it is not stored`);
      }
    }
    return { storedEvents };
  }

  private auditEvent(namespace: string, repository: string, event: SequencedEvent, violations: Violations): void {
    const where = `${namespace}/${repository} event ${preview(event.eventId, 80)}`;
    if (!REPOSITORY_NAME.test(repository)) violations.add(`stored under an invalid repository name: ${where}`);
    if (!v.safeParse(SyncEventSchema, event).success) violations.add(`stored event does not validate: ${where} ${preview(JSON.stringify(event))}`);
    const page = JSON.stringify({ type: 'events', repository, events: [event], hasMore: false });
    const served = decodeFrame(page, ServerMessageSchema, MAX_SERVER_FRAME_BYTES);
    if (!served.ok) violations.add(`stored event cannot be served to a client (${served.error}): ${where}`);
    const versions = this.versions.get(event.eventId);
    if (!versions) {
      const why = this.outsiders.has(event.eventId)
        ? 'only connections without a token pushed it'
        : this.refused.has(event.eventId)
          ? 'it was refused as unauthenticated'
          : 'no authenticated push carried it';
      violations.add(`stored an event that should not be there (${why}): ${where}`);
      return;
    }
    const content = contentOf(event);
    if (!versions.has(content)) {
      violations.add(`stored event differs from what was sent: ${where} ${preview(content)} vs ${preview([...versions][0] ?? '')}`);
    }
  }
}

/** An event's content as JSON text, without the sequence (the server assigns its own). */
function contentOf(event: SyncEvent): string {
  return JSON.stringify([event.eventId, event.dataId, event.operation, event.createdAt, event.data]);
}

function addTo(map: Map<string, Set<string>>, key: string, value: string): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(value);
}
