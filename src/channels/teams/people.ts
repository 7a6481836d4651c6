import { chatPerson } from '../people.js';
import type { Clock } from '../../core/clock.js';
import type { Principal } from '../../core/types.js';
import type { Store } from '../../store/store.js';
import type { BotConnector, ConversationRef } from './bot-connector.js';

const EMAIL_CACHE_MS = 10 * 60_000;

/** Who clicked, as an invoke activity's `from` names them. */
export interface TeamsUser {
  /** The Teams user id (`29:…`), unique to the bot. */
  id: string;
  name: string;
  /** The Entra object id, when Teams sends it (it does for users of the bot's tenant). */
  aadObjectId: string | null;
}

/**
 * Turns a Teams user into a Countersign person: the `channels.teams.users` mapping (Entra object id →
 * email) first, else the member's `email` (or `userPrincipalName`) from the Bot Connector's members API,
 * cached for ten minutes. The person's groups are those of the live human API keys issued to that email;
 * without any, only `user:EMAIL` approvers match. Modelled on `SlackPeople`.
 */
export class TeamsPeople {
  readonly #connector: BotConnector;
  readonly #users: ReadonlyMap<string, string>;
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #cache = new Map<string, { email: string | null; until: number }>();

  constructor(connector: BotConnector, users: Readonly<Record<string, string>>, store: Store, clock: Clock) {
    this.#connector = connector;
    // Object ids are GUIDs; Teams and the Entra admin center do not agree on their case.
    this.#users = new Map(
      Object.entries(users).map(([id, email]) => [id.toLowerCase(), email.toLowerCase()]),
    );
    this.#store = store;
    this.#clock = clock;
  }

  /**
   * The user's email, or null when it cannot be known. `conv` is where to ask the members API, or null when
   * the activity's service URL is not one the bot may send its token to.
   */
  async email(user: TeamsUser, conv: ConversationRef | null): Promise<string | null> {
    if (user.aadObjectId !== null) {
      const mapped = this.#users.get(user.aadObjectId.toLowerCase());
      if (mapped !== undefined) return mapped;
    }
    if (conv === null) return null;
    const now = this.#clock.now().getTime();
    const key = `${conv.serviceUrl} ${user.id}`;
    const hit = this.#cache.get(key);
    if (hit && hit.until > now) return hit.email;
    let email: string | null;
    try {
      const member = await this.#connector.member(conv, user.id);
      const found = member?.email ?? member?.userPrincipalName;
      email = typeof found === 'string' && found.includes('@') ? found.trim().toLowerCase() : null;
    } catch {
      // The Connector failed (down, refused the token): not cached, so the next click may succeed.
      return null;
    }
    this.#cache.set(key, { email, until: now + EMAIL_CACHE_MS });
    return email;
  }

  /** The person behind a Teams user, or null when they cannot be identified. */
  async principal(user: TeamsUser, conv: ConversationRef | null): Promise<Principal | null> {
    const email = await this.email(user, conv);
    if (email === null) return null;
    return chatPerson(this.#store, this.#clock, email, {
      id: `teams:${user.aadObjectId ?? user.id}`,
      name: user.name,
      attributes: { teamsUserId: user.id, ...(user.aadObjectId ? { aadObjectId: user.aadObjectId } : {}) },
    });
  }
}
