/** Row <-> domain mapping shared by both backends. The domain types stay free of storage concerns. */
import { canonicalLeafText } from '../audit/event.js';
import { canonicalJson } from '../core/digest.js';
import type { ActionRequest, AuditEvent, AuditEventInput, Grant } from '../core/types.js';
import type { ApiKeysTable, AuditEventsTable, GrantsTable, RequestsTable } from './schema.js';
import type { ApiKeyRecord, EncryptedPayload } from './store.js';

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

type PayloadColumns = Pick<
  RequestsTable,
  'payload_key_id' | 'payload_iv' | 'payload_ciphertext' | 'payload_tag' | 'payload_sha256'
>;

/** A request's columns but its payload's, which are written once, with the request (`newRequestRow`). */
export function requestToRow(req: ActionRequest): Omit<RequestsTable, keyof PayloadColumns> {
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

/**
 * A new request's whole row: its columns and its payload's (base64; the hash hex), all null when it has
 * no payload. The payload's columns are assigned, not spread together with the others: on Node 20 an
 * object literal that gains a property after a spread gets a fresh hidden class each time (measured),
 * which makes every access to the rows that follows megamorphic; this runs on every submission.
 */
export function newRequestRow(req: ActionRequest, p: EncryptedPayload | undefined): RequestsTable {
  const row = requestToRow(req) as RequestsTable;
  row.payload_key_id = p === undefined ? null : p.keyId;
  row.payload_iv = p === undefined ? null : p.iv.toString('base64');
  row.payload_ciphertext = p === undefined ? null : p.ciphertext.toString('base64');
  row.payload_tag = p === undefined ? null : p.tag.toString('base64');
  row.payload_sha256 = p === undefined ? null : p.sha256;
  return row;
}

/** The payload a row holds, or null. */
export function rowToPayload(row: PayloadColumns): EncryptedPayload | null {
  const { payload_key_id: keyId, payload_iv: iv, payload_ciphertext: ct, payload_tag: tag } = row;
  if (keyId === null || iv === null || ct === null || tag === null || row.payload_sha256 === null)
    return null;
  return {
    keyId,
    iv: Buffer.from(iv, 'base64'),
    ciphertext: Buffer.from(ct, 'base64'),
    tag: Buffer.from(tag, 'base64'),
    sha256: row.payload_sha256,
  };
}

export function rowToRequest(row: Pick<RequestsTable, 'doc' | 'version'>): ActionRequest {
  // The version column is what compare-and-set checks, so it is the authority. (Assigned, not spread
  // over the parsed object: see `newRequestRow`.)
  const req = parseJson<ActionRequest>(row.doc);
  req.version = row.version;
  return req;
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

/** The Merkle leaf text of a row `auditEventToRow` wrote (its `actor` and `data` are canonical already). */
export function auditRowLeafText(row: AuditEventsTable): string {
  return canonicalLeafText({
    seq: row.seq,
    at: row.at,
    type: row.type,
    requestId: row.request_id,
    actorJcs: row.actor,
    dataJcs: row.data,
  });
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
