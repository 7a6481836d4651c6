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

export interface Database {
  api_keys: ApiKeysTable;
  requests: RequestsTable;
  grants: GrantsTable;
  audit_events: AuditEventsTable;
}
