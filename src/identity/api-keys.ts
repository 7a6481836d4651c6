import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { CountersignError, INVALID_API_KEY } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import type { AuditEventInput, Principal, PrincipalKind, Role } from '../core/types.js';
import { isApiKeyLive, type ApiKeyRecord, type Store } from '../store/store.js';

// Token layout: `cs_<id>_<secret>`. The id is public and indexes the row, so verification is one lookup
// and one constant-time compare; the secret is 256 random bits, so a plain SHA-256 is enough (no slow hash).
const TOKEN_RE = /^cs_(ak_[0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export interface NewApiKey {
  name: string;
  kind: PrincipalKind;
  email?: string | null;
  groups?: string[];
  roles?: Role[];
  owner?: string | null;
  expiresAt?: string | null;
}

export function hashToken(token: string): string {
  return hash('sha256', token, 'hex');
}

/** Creates a key and returns its token: the only time the token exists outside the caller's hands. */
export async function createApiKey(
  store: Store,
  clock: Clock,
  input: NewApiKey,
  actor: AuditEventInput['actor'],
): Promise<{ record: ApiKeyRecord; token: string }> {
  const id = `ak_${randomBytes(8).toString('hex')}`;
  const token = `cs_${id}_${randomBytes(32).toString('base64url')}`;
  const now = clock.now().toISOString();
  const record: ApiKeyRecord = {
    id,
    tokenHash: hashToken(token),
    name: input.name,
    kind: input.kind,
    email: input.email ? input.email.trim().toLowerCase() : null,
    groups: input.groups ?? [],
    roles: input.roles ?? [],
    owner: input.owner ? input.owner.trim().toLowerCase() : null,
    createdAt: now,
    expiresAt: input.expiresAt ?? null,
    revokedAt: null,
  };
  await store.createApiKey(record, {
    type: 'key.created',
    at: now,
    requestId: null,
    actor,
    data: publicKeyFields(record),
  });
  return { record, token };
}

/** The fields of a key that are safe to show and audit (never the hash). */
export function publicKeyFields(k: ApiKeyRecord): Record<string, unknown> {
  return {
    id: k.id,
    name: k.name,
    kind: k.kind,
    email: k.email,
    groups: k.groups,
    roles: k.roles,
    owner: k.owner,
    createdAt: k.createdAt,
    expiresAt: k.expiresAt,
    revokedAt: k.revokedAt,
  };
}

export function principalFromKey(k: ApiKeyRecord): Principal {
  return {
    id: k.id,
    kind: k.kind,
    name: k.name,
    email: k.email,
    groups: k.groups,
    roles: k.roles,
    owner: k.owner,
    attributes: {},
    // A human's person id is their email; a human key without one is its own person.
    personId: k.kind === 'human' ? (k.email ?? `apikey|${k.id}`) : null,
  };
}

/**
 * Resolves a bearer token to a principal, or throws UNAUTHENTICATED. Every failure gives the same message
 * so that a caller cannot learn whether a key id exists.
 *
 * `recent`: the key may be the one this process read last (`Store.recentApiKey`), not re-read, so a
 * revocation since may go unseen here. Only for a caller whose write checks the key again inside its
 * transaction (`insertRequest`'s `liveKey`), which a revoked or expired key does not pass.
 */
export async function authenticateApiKey(
  store: Store,
  clock: Clock,
  token: string,
  options: { recent?: boolean } = {},
): Promise<Principal> {
  const fail = () => new CountersignError('UNAUTHENTICATED', INVALID_API_KEY);
  const m = TOKEN_RE.exec(token);
  if (!m) throw fail();
  const id = m[1] as string;
  const record = (options.recent === true ? store.recentApiKey?.(id) : null) ?? (await store.getApiKey(id));
  if (!record) throw fail();
  const given = hash('sha256', token, 'buffer');
  const stored = Buffer.from(record.tokenHash, 'hex');
  if (given.length !== stored.length || !timingSafeEqual(given, stored)) throw fail();
  if (!isApiKeyLive(record, clock.now().getTime())) throw fail();
  return principalFromKey(record);
}
