import type { Clock } from '../core/clock.js';
import type { Principal } from '../core/types.js';
import type { ApiKeyRecord, Store } from '../store/store.js';

/** The human API keys that are live now (not revoked, not expired). */
export async function liveHumanKeys(store: Store, clock: Clock): Promise<ApiKeyRecord[]> {
  const now = clock.now().toISOString();
  return (await store.listApiKeys()).filter(
    (k) => k.kind === 'human' && k.revokedAt === null && (k.expiresAt === null || k.expiresAt > now),
  );
}

/**
 * A chat user (Slack, Teams) as a Countersign person, once their email is known: the person id is the
 * email, and their groups are those of the live human API keys issued to that email; without any, only
 * `user:EMAIL` approvers match them. Chat users never carry roles.
 */
export async function chatPerson(
  store: Store,
  clock: Clock,
  email: string,
  who: { id: string; name: string; attributes: Record<string, unknown> },
): Promise<Principal> {
  const keys = (await liveHumanKeys(store, clock)).filter((k) => k.email?.toLowerCase() === email);
  return {
    id: who.id,
    kind: 'human',
    name: who.name || email,
    email,
    groups: [...new Set(keys.flatMap((k) => k.groups))].sort(),
    roles: [],
    owner: null,
    attributes: who.attributes,
    personId: email,
  };
}
