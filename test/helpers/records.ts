/** Store records for tests below the HTTP API: an API key and a system audit event, with defaults to override. */
import type { AuditEventInput } from '../../src/core/types.js';
import type { ApiKeyRecord } from '../../src/store/store.js';

export const TEST_AT = '2026-01-01T00:00:00.000Z';

/** An agent key named after its id, with no owner, groups or roles unless `fields` say otherwise. */
export function apiKeyRecord(id: string, fields: Partial<ApiKeyRecord> = {}): ApiKeyRecord {
  return {
    id,
    tokenHash: 'ab'.repeat(32),
    name: id,
    kind: 'agent',
    email: null,
    groups: [],
    roles: [],
    owner: null,
    createdAt: TEST_AT,
    expiresAt: null,
    revokedAt: null,
    ...fields,
  };
}

export const SYSTEM_ACTOR = { id: 'test', kind: 'system', personId: null, channel: 'system' } as const;

/** An audit event of `type` by the system, about no request. */
export function systemEvent(type: string, at = TEST_AT): AuditEventInput {
  return {
    type,
    at,
    requestId: null,
    actor: SYSTEM_ACTOR,
    data: {},
  };
}
