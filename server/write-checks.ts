/**
 * What the app lets into its event log, asked before a push is stored: each record against its
 * repository's schema, then the push as a whole against `authorizeWrite`. A push is refused whole
 * (nothing of it stored), and a refusal for what it holds names its events, so that the client
 * sets those writes aside instead of sending them forever. A hook or schema that throws or hangs
 * refuses nothing for good: it is the server failing (`internal`), and the client sends again.
 */
import * as v from 'valibot';
import { describeIssues, Operation, type ErrorCode } from '../protocol';
import { callHook, HookFailed, type RecordSchema, type SyncServerHooks, type WriteRequest, type WriteVerdict } from './hooks';
import type { Logger } from './log';

export interface WriteRefusal {
  code: Extract<ErrorCode, 'invalid_record' | 'forbidden' | 'internal'>;
  message: string;
  /** The push's events, when it is refused for what it holds; none when the server failed. */
  eventIds?: string[];
}

export interface WriteChecks {
  /** Why this push may not be stored, or undefined when it may. Never rejects. */
  refusal(write: WriteRequest): Promise<WriteRefusal | undefined>;
}

/** The checks of `hooks`, each call bounded by `timeoutMs`; with neither schemas nor authorizeWrite every push passes. */
export function createWriteChecks(hooks: SyncServerHooks, timeoutMs: number, log: Logger): WriteChecks {
  const { schemas = {}, authorizeWrite } = hooks;
  const failed = (what: string, error: unknown): WriteRefusal => {
    log.warn(`${what} failed`, { error });
    return { code: 'internal', message: `the server could not check this push (its ${what} failed): nothing of it was stored; send it again` };
  };
  return {
    async refusal(write) {
      const schema = Object.hasOwn(schemas, write.repository) ? schemas[write.repository] : undefined;
      if (schema) {
        try {
          const refused = await callHook(`${write.repository} schema`, timeoutMs, () => schemaRefusal(schema, write));
          if (refused) return refused;
        } catch (error) {
          return failed(`${write.repository} schema`, error);
        }
      }
      if (!authorizeWrite) return undefined;
      try {
        const verdict = await callHook('authorizeWrite', timeoutMs, () => authorizeWrite(write));
        // Inside the try: reading the answer runs the app's code too (a getter, a proxy).
        const read = readVerdict(verdict);
        if (!read) throw new HookFailed(`authorizeWrite answered ${describeAnswer(verdict)}, not { allow: true } or { allow: false, reason }`);
        if (read.allow) return undefined;
        return { code: 'forbidden', message: `this push was refused: ${read.reason}; nothing of it was stored`, eventIds: idsOf(write.events) };
      } catch (error) {
        return failed('authorizeWrite', error);
      }
    },
  };
}

/**
 * Why a push of one or several repositories' events may not be stored, or undefined: each part
 * is asked as a push of its own (its repository's schema, then authorizeWrite, in the batch's
 * order), and the first refusal refuses the whole push, naming all its events when it names any.
 */
export async function pushRefusal(
  checks: WriteChecks,
  { principal, namespace }: { principal: string; namespace: string },
  parts: readonly { repository: string; events: WriteRequest['events'] }[],
): Promise<WriteRefusal | undefined> {
  for (const { repository, events } of parts) {
    const refusal = await checks.refusal({ principal, namespace, repository, events });
    if (!refusal) continue;
    if (parts.length === 1 || refusal.eventIds === undefined) return refusal;
    return { ...refusal, eventIds: parts.flatMap((part) => idsOf(part.events)) };
  }
  return undefined;
}

/** The first insert or update whose data the schema refuses; deletes carry no record to check. */
async function schemaRefusal(schema: RecordSchema, { repository, events }: WriteRequest): Promise<WriteRefusal | undefined> {
  for (const event of events) {
    if (event.operation === Operation.delete) continue;
    const result = await v.safeParseAsync(schema, event.data);
    if (result.success) continue;
    return {
      code: 'invalid_record',
      message: `invalid ${repository} record in event ${event.eventId}: ${describeIssues(result.issues)}; nothing of this push was stored`,
      eventIds: idsOf(events),
    };
  }
  return undefined;
}

/** The verdict when it is one; undefined for anything else (a hook's bug, never taken as an answer). */
function readVerdict(verdict: unknown): WriteVerdict | undefined {
  if (typeof verdict !== 'object' || verdict === null) return undefined;
  const { allow, reason } = verdict as { allow?: unknown; reason?: unknown };
  if (allow === true) return { allow };
  return allow === false && typeof reason === 'string' && reason !== '' ? { allow, reason } : undefined;
}

function idsOf(events: WriteRequest['events']): string[] {
  return events.map((e) => e.eventId);
}

function describeAnswer(answer: unknown): string {
  if (answer === null || typeof answer !== 'object') return String(answer);
  return Array.isArray(answer) ? 'an array' : `an object with keys ${Object.keys(answer).join(', ') || '(none)'}`;
}
