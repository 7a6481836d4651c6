/**
 * The tables as Kysely sees them. Both backends use the same column types: text for strings,
 * ISO-8601 UTC timestamps and JSON documents (so timestamps sort as text), integer for counters.
 */
export interface ApiKeysTable {
  id: string;
  token_hash: string;
  name: string;
  kind: string;
  email: string | null;
  /** JSON array of strings. */
  groups: string;
  /** JSON array of roles. */
  roles: string;
  owner: string | null;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
}

export interface RequestsTable {
  id: string;
  status: string;
  requester_id: string;
  idempotency_key: string | null;
  /** The approval deadline; only meaningful while status is pending. */
  expires_at: string | null;
  created_at: string;
  version: number;
  /** The whole `ActionRequest` as JSON; the columns above only exist for queries. */
  doc: string;
  /**
   * The request's full submitted payload, AES-256-GCM encrypted (base64, except `payload_sha256`: hex);
   * all null when it has none. Written only with the request (see `newRequestRow`).
   */
  payload_key_id: string | null;
  payload_iv: string | null;
  payload_ciphertext: string | null;
  payload_tag: string | null;
  payload_sha256: string | null;
}

export interface GrantsTable {
  id: string;
  request_id: string;
  requester_id: string;
  action: string;
  resource: string;
  environment: string;
  uses: number;
  used: number;
  expires_at: string;
  created_at: string;
}

export interface AuditEventsTable {
  /** 1-based, contiguous, in commit order: the audit Merkle tree's leaf index is seq - 1. */
  seq: number;
  at: string;
  type: string;
  request_id: string | null;
  /** JSON object. */
  actor: string;
  /** JSON object. */
  data: string;
}

/**
 * The hash (hex) of each perfect subtree of the audit Merkle tree, leaves [idx·2^level, (idx+1)·2^level),
 * under the key `auditNodeKey(level, idx)` (audit-node-key.ts). PostgreSQL returns the key as a string.
 */
export interface AuditNodesTable {
  pos: number | string;
  hash: string;
}

export interface AuditCheckpointsTable {
  /** The tree size the checkpoint commits to. */
  size: number;
  /** Hex root hash at that size. */
  root: string;
  /** The whole signed note (C2SP tlog-checkpoint). */
  note: string;
  created_at: string;
}

/** One channel delivery of the transactional outbox. */
export interface OutboxTable {
  id: string;
  channel: string;
  kind: string;
  request_id: string;
  idempotency_key: string;
  /** JSON. */
  payload: string;
  status: string;
  attempts: number;
  next_attempt_at: string;
  last_error: string | null;
  created_at: string;
  updated_at: string;
}

/** A message a channel posted for a request to one target; `ref` (JSON) finds it again for updates. */
export interface ChannelMessagesTable {
  channel: string;
  request_id: string;
  target: string;
  ref: string;
}

/** One row (id 1): `n` moves with every change to `api_keys` (triggers; migration 0005). */
export interface ApiKeyChangesTable {
  id: number;
  n: number | string;
}

export interface Database {
  api_keys: ApiKeysTable;
  api_key_changes: ApiKeyChangesTable;
  requests: RequestsTable;
  grants: GrantsTable;
  audit_events: AuditEventsTable;
  audit_nodes: AuditNodesTable;
  audit_checkpoints: AuditCheckpointsTable;
  outbox: OutboxTable;
  channel_messages: ChannelMessagesTable;
}
