/**
 * The messages between a `ThreadedSqliteStore` (threaded-store.ts) and its store thread (store-thread.ts).
 *
 * Each message is an array: every call made in one turn of the event loop travels in one message, and
 * every answer ready in one turn of the thread's loop comes back in one, so a group commit of fifty writes
 * costs two messages, not a hundred.
 *
 * Values are copied by the structured clone algorithm, which turns a Buffer into a plain Uint8Array and
 * copies a Buffer's whole backing memory (often Node's shared 8 KiB pool), so the few values that hold
 * Buffers are sent as exact-size Uint8Arrays and turned back into Buffers on arrival (`send*` / `receive*`).
 * Errors are sent as their name, message and code, and rebuilt as the same classes, because callers tell
 * a lost compare-and-set (`VersionConflict`) from a used-up grant or a broken database by class.
 */
import { CountersignError, type ErrorCode } from '../../core/errors.js';
import type { EncryptedPayload, PayloadToSeal, Store, StoredCheckpoint } from '../store.js';
import { GrantUnavailable, isPayloadToSeal, VersionConflict } from '../store.js';

/** Every method of the Store contract, the only names a store thread will call. */
export const STORE_METHODS = [
  'migrate',
  'close',
  'ping',
  'createApiKey',
  'getApiKey',
  'listApiKeys',
  'countApiKeys',
  'revokeApiKey',
  'insertRequest',
  'getRequest',
  'findByIdempotencyKey',
  'listRequests',
  'updateRequest',
  'listDue',
  'nextDeadline',
  'findGrants',
  'getGrant',
  'listAuditEvents',
  'countAuditEvents',
  'appendAuditEvents',
  'auditTreeSize',
  'auditNode',
  'auditNodes',
  'saveCheckpoint',
  'latestCheckpoint',
  'getCheckpoint',
  'getRequestPayload',
  'claimDueDeliveries',
  'markDelivered',
  'markFailed',
  'listDeliveries',
  'saveChannelMessage',
  'getChannelMessage',
] as const satisfies readonly Exclude<keyof Store, 'kind'>[];

export type StoreMethod = (typeof STORE_METHODS)[number];

const KNOWN = new Set<string>(STORE_METHODS);
export function isStoreMethod(name: unknown): name is StoreMethod {
  return typeof name === 'string' && KNOWN.has(name);
}

export interface Call {
  id: number;
  method: StoreMethod;
  /** The arguments; for the hot writes (`AS_JSON`), their JSON text. */
  args: unknown[] | string;
}

export interface SentError {
  name: string;
  message: string;
  code?: string;
  details?: Record<string, unknown>;
  stack?: string;
}

export type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: SentError };

/** What the thread is started with (`workerData`). */
export interface StoreThreadData {
  path: string;
  /** The active payload key, when the thread is to seal payloads itself (see `PayloadToSeal`). */
  payloadKey?: { id: string; key: Uint8Array };
}

/** A copy of `bytes` that owns exactly its bytes (see the module comment). */
function exact(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

/** A Buffer over a received Uint8Array, without copying. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A sealed payload whose bytes are held as `B` (Buffers; exact copies to send; base64 in JSON). */
type PayloadOf<B> = Omit<EncryptedPayload, 'iv' | 'ciphertext' | 'tag'> & { iv: B; ciphertext: B; tag: B };

function payloadBytes<A, B>(p: PayloadOf<A>, f: (bytes: A) => B): PayloadOf<B> {
  return { ...p, iv: f(p.iv), ciphertext: f(p.ciphertext), tag: f(p.tag) };
}

function mapPayload(p: EncryptedPayload, f: (b: Uint8Array) => Uint8Array): EncryptedPayload {
  return payloadBytes(p, (b) => f(b) as Buffer);
}

function mapCheckpoint(c: StoredCheckpoint, f: (b: Uint8Array) => Uint8Array): StoredCheckpoint {
  return { ...c, root: f(c.root) as Buffer };
}

/**
 * The arguments that hold Buffers, made fit to send (main thread) or back into Buffers (store thread).
 * (insertRequest's payload travels as JSON: see `AS_JSON`.)
 */
function mapArgs(method: StoreMethod, args: unknown[], f: (b: Uint8Array) => Uint8Array): unknown[] {
  if (method === 'saveCheckpoint') return [mapCheckpoint(args[0] as StoredCheckpoint, f)];
  return args;
}

/** The results that hold Buffers, likewise. */
function mapResult(method: StoreMethod, value: unknown, f: (b: Uint8Array) => Uint8Array): unknown {
  if (value === null || value === undefined) return value;
  switch (method) {
    case 'insertRequest': {
      // A new request is the one the caller sent: only an idempotent replay's stored request comes back.
      const { request, created } = value as { request: unknown; created: boolean };
      return created ? { request: null, created } : { request, created };
    }
    case 'auditNode':
      return f(value as Uint8Array);
    case 'auditNodes':
      return (value as Uint8Array[]).map(f);
    case 'getRequestPayload':
      return mapPayload(value as EncryptedPayload, f);
    case 'latestCheckpoint':
    case 'getCheckpoint':
      return mapCheckpoint(value as StoredCheckpoint, f);
    default:
      return value;
  }
}

/**
 * The hot writes travel as one JSON text instead: for the plain data they hold, JSON.stringify plus
 * JSON.parse cost a fraction of the structured clone (measured on a submit's arguments: ~2 µs + ~3 µs
 * against ~16 µs), and the clone's work lands on both threads. What they hold is JSON already (the store
 * writes it as JSON) except a sealed payload's Buffers, sent as base64. JSON has no `undefined`: an
 * optional argument left out arrives as null and is turned back (none of these takes a null argument).
 */
const AS_JSON: ReadonlySet<StoreMethod> = new Set(['insertRequest', 'updateRequest', 'appendAuditEvents']);

export function sendArgs(method: StoreMethod, args: unknown[]): unknown[] | string {
  if (!AS_JSON.has(method)) return mapArgs(method, args, exact);
  if (method === 'insertRequest') {
    const options = args[2] as { payload?: EncryptedPayload | PayloadToSeal } | undefined;
    const p = options?.payload;
    // A payload to seal is text already; only a sealed one holds bytes.
    if (p !== undefined && !isPayloadToSeal(p)) {
      const payload = payloadBytes(p, (b) => b.toString('base64'));
      return JSON.stringify([args[0], args[1], { ...options, payload }]);
    }
  }
  return JSON.stringify(args);
}

export function receiveArgs(method: StoreMethod, sent: unknown[] | string): unknown[] {
  if (typeof sent !== 'string') return mapArgs(method, sent, asBuffer);
  const parsed = JSON.parse(sent) as unknown[];
  const args: unknown[] = parsed.map((a) => (a === null ? undefined : a));
  if (method === 'insertRequest') {
    const options = args[2] as { payload?: PayloadOf<string> | PayloadToSeal } | undefined;
    const p = options?.payload;
    if (p !== undefined && !isPayloadToSeal(p)) {
      const payload: EncryptedPayload = payloadBytes(p, (b) => Buffer.from(b, 'base64'));
      return [args[0], args[1], { ...options, payload }];
    }
  }
  return args;
}
export const sendResult = (method: StoreMethod, value: unknown): unknown => mapResult(method, value, exact);
export const receiveResult = (method: StoreMethod, value: unknown): unknown =>
  mapResult(method, value, asBuffer);

/**
 * Posts `items` in one message; if that fails (an item holds something the structured clone cannot copy,
 * such as a function), posts them one by one, so that only the item that cannot be sent is `failed`.
 */
export function postInOne<T>(
  post: (items: T[]) => void,
  items: T[],
  failed: (item: T, err: Error) => void,
): void {
  try {
    post(items);
  } catch {
    for (const item of items) {
      try {
        post([item]);
      } catch (err) {
        failed(item, err instanceof Error ? err : new Error(String(err)));
      }
    }
  }
}

export function sendError(err: unknown): SentError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  const sent: SentError = { name: err.name, message: err.message };
  const { code, details } = err as { code?: unknown; details?: unknown };
  if (typeof code === 'string') sent.code = code;
  if (details !== null && typeof details === 'object') sent.details = details as Record<string, unknown>;
  if (err.stack !== undefined) sent.stack = err.stack;
  return sent;
}

/** The error as the caller would have seen it from a store on its own thread. */
export function receiveError(sent: SentError): Error {
  let err: Error;
  if (sent.name === 'VersionConflict') err = new VersionConflict(sent.message);
  else if (sent.name === 'GrantUnavailable') err = new GrantUnavailable(sent.message);
  else if (sent.name === 'CountersignError' && sent.code !== undefined)
    err = new CountersignError(
      sent.code as ErrorCode,
      sent.message,
      sent.details === undefined ? undefined : { details: sent.details },
    );
  else {
    err = new Error(sent.message);
    err.name = sent.name;
    if (sent.code !== undefined) (err as Error & { code: string }).code = sent.code;
  }
  // The store thread's stack says where it failed; this thread's would only show the message handler.
  if (sent.stack !== undefined) err.stack = sent.stack;
  return err;
}
