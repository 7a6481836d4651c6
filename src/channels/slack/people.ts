import { chatPerson } from '../people.js';
import type { Clock } from '../../core/clock.js';
import type { Principal } from '../../core/types.js';
import type { Store } from '../../store/store.js';
import type { SlackApi } from './slack-api.js';

const EMAIL_CACHE_MS = 10 * 60_000;

/**
 * Turns a Slack user into a Countersign person: the explicit `channels.slack.users` mapping first, else
 * the profile email from `users.info` (cached for ten minutes). The person's groups are those of the
 * human API keys issued to that email (live ones only); without any, only `user:EMAIL` approvers match.
 */
export class SlackPeople {
  readonly #api: SlackApi;
  readonly #users: Readonly<Record<string, string>>;
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #cache = new Map<string, { email: string | null; until: number }>();

  constructor(api: SlackApi, users: Readonly<Record<string, string>>, store: Store, clock: Clock) {
    this.#api = api;
    this.#users = users;
    this.#store = store;
    this.#clock = clock;
  }

  /** The user's email, or null when Slack has none for them (or the lookup failed). */
  async email(userId: string): Promise<string | null> {
    const mapped = this.#users[userId];
    if (mapped !== undefined) return mapped;
    const now = this.#clock.now().getTime();
    const hit = this.#cache.get(userId);
    if (hit && hit.until > now) return hit.email;
    let email: string | null;
    try {
      email = await this.#api.userEmail(userId);
    } catch {
      // users.info failed (unknown user, missing scope, Slack down): not cached, so a retry may succeed.
      return null;
    }
    this.#cache.set(userId, { email, until: now + EMAIL_CACHE_MS });
    return email;
  }

  /** The person behind a Slack user, or null when they cannot be identified. */
  async principal(userId: string, displayName: string): Promise<Principal | null> {
    const email = await this.email(userId);
    if (email === null) return null;
    return chatPerson(this.#store, this.#clock, email, {
      id: `slack:${userId}`,
      name: displayName,
      attributes: { slackUserId: userId },
    });
  }
}
