import type {
  ActionRequest,
  AuditEvent,
  AuditEventInput,
  Grant,
  PrincipalKind,
  RequestStatus,
  Role,
} from '../core/types.js';

/** An API key as stored: only the SHA-256 of the token is kept, never the token. */
export interface ApiKeyRecord {
  /** Public id, also embedded in the token so that lookup needs no scan. */
  id: string;
  /** Hex SHA-256 of the whole token. */
  tokenHash: string;
  name: string;
  kind: PrincipalKind;
  email: string | null;
  groups: string[];
  roles: Role[];
  owner: string | null;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
}

/** Whether a key may authenticate at `at` (ms since the epoch): not revoked, and not expired by then. */
export function isApiKeyLive(key: Pick<ApiKeyRecord, 'revokedAt' | 'expiresAt'>, at: number): boolean {
  return key.revokedAt === null && (key.expiresAt === null || Date.parse(key.expiresAt) > at);
}

/** Results are newest first (`createdAt`, then id, descending); no `limit` means all. */
export interface RequestFilter {
  status?: RequestStatus;
  requesterId?: string;
  /** Created at or after this ISO-8601 instant. */
  createdFrom?: string;
  /** Created strictly before this ISO-8601 instant. */
  createdBefore?: string;
  limit?: number;
}

/** A signed checkpoint of the audit log (a C2SP tlog-checkpoint note) as stored. */
export interface StoredCheckpoint {
  size: number;
  root: Buffer;
  /** The whole signed note, as served by `GET /v1/audit/checkpoint`. */
  note: string;
  createdAt: string;
}

/** A request's full payload (`{parameters, reason, context}`), AES-256-GCM encrypted under `keyId`. */
export interface EncryptedPayload {
  keyId: string;
  iv: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
  /** Hex SHA-256 of the plaintext (its JCS form): what the `request.submitted` event carries. */
  sha256: string;
}

/**
 * A request's payload for the store to seal itself, with the active payload key it was opened with
 * (`openStore(url, { payloadKey })`): the payload's JCS text and that text's SHA-256 (hex), which the
 * caller has already put in the `request.submitted` event. The store thread then does the AES-GCM work
 * instead of the event loop; what is written is the same `EncryptedPayload`.
 */
export interface PayloadToSeal {
  plaintext: string;
  sha256: string;
}

/** A payload to seal (text), as against a sealed one (bytes), whatever form the bytes travel in. */
export function isPayloadToSeal(p: object): p is PayloadToSeal {
  return 'plaintext' in p;
}

/**
 * What a delivery announces. `request.decided` covers approved, denied and cancelled; an expiry is
 * `request.expired`; `execution.finished` follows a gateway-run action (executors).
 */
export type DeliveryKind =
  'request.created' | 'request.reviewed' | 'request.decided' | 'request.expired' | 'execution.finished';

export const DELIVERY_KINDS: readonly DeliveryKind[] = [
  'request.created',
  'request.reviewed',
  'request.decided',
  'request.expired',
  'execution.finished',
];

/** A channel delivery to write to the outbox with a state change. */
export interface NewDelivery {
  id: string;
  /** The channel that sends it (`slack`, `teams`, `webhook`). */
  channel: string;
  kind: DeliveryKind;
  requestId: string;
  /** Unique across the outbox: writing a delivery whose key exists already is a no-op. */
  idempotencyKey: string;
  /** JSON; the channel's own addressing (e.g. `{target: "#prod-approvals"}`) and a masked snapshot. */
  payload: unknown;
  createdAt: string;
}

/** A delivery as stored. `pending` ones are due at `nextAttemptAt`; `sent` and `dead` are final. */
export interface OutboxDelivery extends NewDelivery {
  status: 'pending' | 'sent' | 'dead';
  /** How many times it was claimed (each claim is one attempt). */
  attempts: number;
  nextAttemptAt: string;
  lastError: string | null;
  updatedAt: string;
}

/**
 * A message a channel posted for a request to one target, and what finds it again for an update
 * (Slack: `{channel, ts}`; Teams: the activity id).
 */
export interface ChannelMessageRecord {
  /** The channel's name (`slack`, `teams`). */
  channel: string;
  requestId: string;
  target: string;
  ref: Record<string, string>;
}

/** Thrown by `updateRequest` when another writer changed the row first (compare-and-set lost). */
export class VersionConflict extends Error {
  override readonly name = 'VersionConflict';
}

/** Thrown by `insertRequest` when the grant it was told to consume has no uses or time left. */
export class GrantUnavailable extends Error {
  override readonly name = 'GrantUnavailable';
}

/** What `insertRequest` writes with the request, besides its audit events. */
export interface InsertRequestOptions {
  consumeGrantId?: string;
  grant?: Grant;
  /** Sealed already, or to seal (a store opened without a payload key refuses to). */
  payload?: EncryptedPayload | PayloadToSeal;
  /** Outbox deliveries, written only when the request is created (not for an idempotent replay). */
  deliveries?: NewDelivery[];
  /**
   * Writes only if this API key is live inside the write's transaction: it exists, is not revoked,
   * and has not expired at `at`. Otherwise rejects with CountersignError `UNAUTHENTICATED` and writes
   * nothing. (On SQLite the write holds the database's only write lock, so no revocation can commit
   * between the check and the write; on PostgreSQL the check reads what is committed when it runs.)
   */
  liveKey?: { id: string; at: string };
}

/**
 * The persistence port. Every method is atomic: it commits fully, with its audit events, or not at all.
 *
 * Concurrency guarantees (the contract suite in `store-contract.test.ts` checks each against every adapter):
 * - `updateRequest` is a compare-and-set on `version`: of N concurrent calls with the same expected
 *   version, exactly one succeeds; the rest throw `VersionConflict` and change nothing. Hence exactly one
 *   caller moves a pending request to a terminal state.
 * - `insertRequest` with a grant id consumes one use of that grant in the same transaction; concurrent
 *   consumers never take more than `uses` in total, and a failed consume inserts nothing. The grant must
 *   be live at `req.createdAt` (expiresAt > createdAt): the store has no clock of its own.
 * - `insertRequest` with an idempotency key that the same requester already used returns the stored
 *   request instead of inserting (`created: false`), also when two such calls race.
 * - Audit events get strictly increasing `seq` numbers in commit order, with no gaps, and are written in
 *   the same transaction as the change they describe (invariant 7).
 * - The audit Merkle tree (RFC 6962) grows in that same transaction: event `seq` is leaf `seq - 1`, and
 *   every perfect subtree hash is stored, so an append writes O(1) nodes amortized (O(log n) reads at
 *   worst) and a root or proof at any committed size needs O(log n) node reads, never a rebuild.
 * - Deliveries passed to `insertRequest` / `updateRequest` are written to the outbox in the same
 *   transaction as the change (no delivery without its change, and no change without its deliveries); one
 *   whose idempotency key exists already is skipped.
 * - `claimDueDeliveries` is atomic: a due pending delivery is handed to exactly one of any number of
 *   concurrent claimers (in this or another process), which then owns it until its lease runs out.
 * - Any failure to reach the database surfaces as an error (the gateway maps it to 503 UNAVAILABLE);
 *   nothing is ever reported as written that was not committed.
 * - Durability: a write resolves only once its commit is on disk (fsync: PostgreSQL's synchronous commit;
 *   on SQLite an fsync of the WAL after the commit, in the thread pool, shared by a group of writes), and a
 *   read resolves only once everything it may have seen is on disk, so no caller acts on a change that a
 *   power loss could take back.
 */
export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** True when `insertRequest` takes a `PayloadToSeal` (the store was opened with a payload key). */
  readonly sealsPayloads?: boolean;
  /** Creates or upgrades the schema. Safe to run at every start, and concurrently. */
  migrate(): Promise<void>;
  close(): Promise<void>;
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;

  createApiKey(key: ApiKeyRecord, event: AuditEventInput): Promise<void>;
  /**
   * The one read that may answer before what it saw is on disk (SQLite answers it without waiting for
   * the WAL's fsync): it authenticates a caller, which learns nothing from it but whether its key is good,
   * and anything the caller then changes is written, and synced, after it (an fsync covers every commit
   * before it, so that of the key too).
   */
  getApiKey(id: string): Promise<ApiKeyRecord | null>;
  /**
   * The key as this process read it last, without checking that it has not changed since, or null when
   * none is at hand (then call `getApiKey`). Only for a caller whose write checks the key again inside
   * its transaction (`insertRequest`'s `liveKey`): a revocation this misses, that check does not.
   * Optional: a store without a cheaper way to know its keys leaves it out.
   */
  recentApiKey?(id: string): ApiKeyRecord | null;
  listApiKeys(): Promise<ApiKeyRecord[]>;
  countApiKeys(): Promise<number>;
  /** Sets `revokedAt` if not already set; returns false when the key does not exist or was already revoked. */
  revokeApiKey(id: string, at: string, event: AuditEventInput): Promise<boolean>;

  insertRequest(
    req: ActionRequest,
    events: AuditEventInput[],
    options?: InsertRequestOptions,
  ): Promise<{ request: ActionRequest; created: boolean }>;
  getRequest(id: string): Promise<ActionRequest | null>;
  findByIdempotencyKey(requesterId: string, key: string): Promise<ActionRequest | null>;
  listRequests(filter: RequestFilter): Promise<ActionRequest[]>;
  /**
   * Replaces the request if its stored version is `next.version - 1`, appending `events` and, when
   * `grant` is given (an approval that opens a JIT window), inserting it, and writing `deliveries` to the
   * outbox, all in one transaction. Throws `VersionConflict` also when no request has that id.
   */
  updateRequest(
    next: ActionRequest,
    events: AuditEventInput[],
    grant?: Grant,
    deliveries?: NewDelivery[],
  ): Promise<void>;
  /** Pending requests whose deadline is at or before `now`, oldest deadline first. */
  listDue(now: string, limit: number): Promise<ActionRequest[]>;
  /** The earliest deadline among pending requests, or null when none is pending. */
  nextDeadline(): Promise<string | null>;

  /** Live grants for this requester and exact action, resource and environment. */
  findGrants(q: {
    requesterId: string;
    action: string;
    resource: string;
    environment: string;
    now: string;
  }): Promise<Grant[]>;
  getGrant(id: string): Promise<Grant | null>;

  /** Audit events with seq > `after`, in seq order. */
  listAuditEvents(after: number, limit: number): Promise<AuditEvent[]>;
  countAuditEvents(): Promise<number>;
  /** Appends events that record no other state change (e.g. `request.revealed`), in one transaction. */
  appendAuditEvents(events: AuditEventInput[]): Promise<void>;

  /** The number of leaves in the audit tree: the highest committed `seq` (0 when empty). */
  auditTreeSize(): Promise<number>;
  /**
   * The hash of the perfect subtree over leaves [idx·2^level, (idx+1)·2^level) — a `SubtreeSource` for
   * roots and proofs. Throws when that subtree is not complete (yet).
   */
  auditNode(level: number, idx: number): Promise<Buffer>;
  /** Several nodes in one round trip, in the order asked; throws like `auditNode` when one is missing. */
  auditNodes(positions: readonly (readonly [level: number, idx: number])[]): Promise<Buffer[]>;
  /** Stores a checkpoint; a second one for the same size is ignored (the first stays). */
  saveCheckpoint(checkpoint: StoredCheckpoint): Promise<void>;
  /** The checkpoint of the largest size, or null before the first. */
  latestCheckpoint(): Promise<StoredCheckpoint | null>;
  getCheckpoint(size: number): Promise<StoredCheckpoint | null>;
  /** The encrypted payload `insertRequest` stored with the request, or null. */
  getRequestPayload(requestId: string): Promise<EncryptedPayload | null>;

  /**
   * Claims up to `limit` pending deliveries due at `now` (oldest due first): each one's `attempts` grows by
   * one and `nextAttemptAt` moves to now + `leaseMs`, so no other claimer gets it while it is being sent;
   * if the claimer dies, it is due again when the lease runs out. Returns them as claimed.
   */
  claimDueDeliveries(now: string, limit: number, leaseMs: number): Promise<OutboxDelivery[]>;
  /** Marks a delivery sent (final). */
  markDelivered(id: string, at: string): Promise<void>;
  /** Records a failed attempt: due again at `nextAttemptAt`, or `dead` (final) when it is null. */
  markFailed(id: string, error: string, nextAttemptAt: string | null, at: string): Promise<void>;
  /** Deliveries of one request, oldest first (for operators and tests). */
  listDeliveries(requestId: string): Promise<OutboxDelivery[]>;

  /** Remembers a message a channel posted for a request to a target; a second save for the triple is ignored. */
  saveChannelMessage(message: ChannelMessageRecord): Promise<void>;
  getChannelMessage(channel: string, requestId: string, target: string): Promise<ChannelMessageRecord | null>;
}
