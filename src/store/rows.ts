/** Row <-> domain mapping shared by both backends. The domain types stay free of storage concerns. */
import { canonicalJson } from '../core/digest.js';
import type { ActionRequest, AuditEvent, AuditEventInput, Grant } from '../core/types.js';
import type { ApiKeysTable, AuditEventsTable, GrantsTable, RequestsTable } from './schema.js';
import type { ApiKeyRecord } from './store.js';

/** JSON.parse with the type the column is known to hold (only this module writes these columns). */
function parseJson<T>(text: string): T {
  return JSON.parse(text) as T;
}

export function apiKeyToRow(key: ApiKeyRecord): ApiKeysTable {
  return {
    id: key.id,
    token_hash: key.tokenHash,
    name: key.name,
    kind: key.kind,
    email: key.email,
    groups: JSON.stringify(key.groups),
    roles: JSON.stringify(key.roles),
    owner: key.owner,
    created_at: key.createdAt,
    expires_at: key.expiresAt,
    revoked_at: key.revokedAt,
  };
}

export function rowToApiKey(row: ApiKeysTable): ApiKeyRecord {
  return {
    id: row.id,
    tokenHash: row.token_hash,
    name: row.name,
    kind: row.kind as ApiKeyRecord['kind'],
    email: row.email,
    groups: parseJson<string[]>(row.groups),
    roles: parseJson<ApiKeyRecord['roles']>(row.roles),
    owner: row.owner,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
  };
}

export function requestToRow(req: ActionRequest): RequestsTable {
  return {
    id: req.id,
    status: req.status,
    requester_id: req.requester.id,
    idempotency_key: req.idempotencyKey,
    expires_at: req.approval?.expiresAt ?? null,
    created_at: req.createdAt,
    version: req.version,
    doc: JSON.stringify(req),
  };
}

export function rowToRequest(row: Pick<RequestsTable, 'doc' | 'version'>): ActionRequest {
  // The version column is what compare-and-set checks, so it is the authority.
  return { ...parseJson<ActionRequest>(row.doc), version: row.version };
}

export function grantToRow(grant: Grant): GrantsTable {
  return {
    id: grant.id,
    request_id: grant.requestId,
    requester_id: grant.requesterId,
    action: grant.action,
    resource: grant.resource,
    environment: grant.environment,
    uses: grant.uses,
    used: grant.used,
    expires_at: grant.expiresAt,
    created_at: grant.createdAt,
  };
}

export function rowToGrant(row: GrantsTable): Grant {
  return {
    id: row.id,
    requestId: row.request_id,
    requesterId: row.requester_id,
    action: row.action,
    resource: row.resource,
    environment: row.environment,
    uses: row.uses,
    used: row.used,
    expiresAt: row.expires_at,
    createdAt: row.created_at,
  };
}

/**
 * `actor` and `data` are written in their canonical (JCS) form: any JSON reads them back the same, and the
 * Merkle leaf is then their concatenation with the other members (`canonicalLeafText`). Rows written
 * before this held JSON.stringify's text, which reads back the same; readers never rely on the form.
 */
export function auditEventToRow(seq: number, event: AuditEventInput): AuditEventsTable {
  return {
    seq,
    at: event.at,
    type: event.type,
    request_id: event.requestId,
    actor: canonicalJson(event.actor),
    data: canonicalJson(event.data),
  };
}

export function rowToAuditEvent(row: AuditEventsTable): AuditEvent {
  return {
    seq: row.seq,
    type: row.type,
    at: row.at,
    requestId: row.request_id,
    actor: parseJson<AuditEvent['actor']>(row.actor),
    data: parseJson<AuditEvent['data']>(row.data),
  };
}
