import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.js';
import { excludedPersons } from '../../core/separation-of-duties.js';
import type { ActionRequest } from '../../core/types.js';
import { toView } from '../../gateway/view.js';
import type { DeliveryKind, Store } from '../../store/store.js';
import { deliveryTarget, requesterPerson, type Channel, type Delivery } from '../channel.js';
import { liveHumanKeys } from '../people.js';
import { buildOutcomeText, buildSlackMessage, type SlackMessage } from './message.js';
import type { PostedMessage, SlackApi } from './slack-api.js';

/** The virtual targets the channel adds itself: the requester's outcome DM, and the approvers' DMs. */
export const REQUESTER_TARGET = '@requester';
export const APPROVERS_TARGET = '@approvers';

/** How far back a retry looks for a message it may have posted before a crash or a lost response. */
const LOOKBACK_S = 60;

export interface SlackChannelOptions {
  store: Store;
  clock: Clock;
  logger: Logger;
  publicUrl: string | null;
  /** Also DM each eligible approver (`channels.slack.dm_approvers`). */
  dmApprovers: boolean;
  /** `channels.slack.users` (Slack user id → email): consulted before `users.lookupByEmail`. */
  users: Readonly<Record<string, string>>;
}

/**
 * Posts a request's approval message to each Slack target and edits it in place afterwards; DMs the
 * eligible approvers when configured; tells the person behind the request the outcome.
 *
 * Each delivery renders the request as it is now (read from the store, masked), so deliveries that arrive
 * late or out of order never show an older state. Exactly once: a target with a recorded message is
 * updated, never posted to again; and a retry that finds nothing recorded (the post went out but the
 * answer was lost, or the process died before saving it) first looks for the message in the channel's
 * history by its metadata, so a Slack outage or a crash never doubles a message.
 */
export class SlackChannel implements Channel {
  readonly name = 'slack';
  readonly #api: SlackApi;
  readonly #o: SlackChannelOptions;
  readonly #channelIds = new Map<string, string>();
  readonly #userByEmail: Map<string, string>;

  constructor(api: SlackApi, options: SlackChannelOptions) {
    this.#api = api;
    this.#o = options;
    this.#userByEmail = new Map(Object.entries(options.users).map(([id, email]) => [email, id]));
  }

  targets(req: ActionRequest, kind: DeliveryKind, named: readonly string[]): string[] {
    if (kind === 'execution.finished') return [];
    const out = [...named];
    if (this.#o.dmApprovers && req.approval !== null) out.push(APPROVERS_TARGET);
    if ((kind === 'request.decided' || kind === 'request.expired') && requesterPerson(req) !== null) {
      out.push(REQUESTER_TARGET);
    }
    return out;
  }

  async deliver(d: Delivery): Promise<void> {
    const target = deliveryTarget(d);
    const req = await this.#o.store.getRequest(d.requestId);
    if (req === null) throw new Error(`request ${d.requestId} does not exist`);
    if (target === REQUESTER_TARGET) return this.#tellRequester(req, d);
    const message = buildSlackMessage(toView(req), this.#o.publicUrl);
    if (target === APPROVERS_TARGET) return this.#dmApprovers(req, message, d);
    await this.#postOrUpdate(req, target, message, d, () => this.#channelId(target));
  }

  /** Posts `message` for (request, target) once, or updates the one posted. */
  async #postOrUpdate(
    req: ActionRequest,
    target: string,
    message: SlackMessage,
    d: Delivery,
    channelId: () => Promise<string | null>,
    postTo: string = target,
  ): Promise<void> {
    const { store } = this.#o;
    const saved = await store.getChannelMessage(this.name, req.id, target);
    let posted: PostedMessage | null = saved === null ? null : refOf(saved.ref);
    if (posted === null && d.attempt > 1) posted = await this.#find(req.id, target, d, channelId);
    if (posted !== null) {
      if (saved === null) await this.#save(req.id, target, posted);
      await this.#api.update({ ...posted, ...message });
      return;
    }
    const sent = await this.#api.postMessage({
      channel: postTo,
      ...message,
      metadata: { requestId: req.id, target },
    });
    await this.#save(req.id, target, sent);
  }

  /** The message a previous attempt may have posted, found through the channel history's metadata. */
  async #find(
    requestId: string,
    target: string,
    d: Delivery,
    channelId: () => Promise<string | null>,
  ): Promise<PostedMessage | null> {
    const channel = await channelId();
    if (channel === null) return null;
    const oldest = Math.floor(Date.parse(d.createdAt) / 1000) - LOOKBACK_S;
    return this.#api.findPosted({ channel, oldest, requestId, target });
  }

  async #save(requestId: string, target: string, m: PostedMessage): Promise<void> {
    await this.#o.store.saveChannelMessage({
      channel: this.name,
      requestId,
      target,
      ref: { channel: m.channel, ts: m.ts },
    });
  }

  /** A notify target's channel id: ids as they are, `#name` through `conversations.list` (cached). */
  async #channelId(target: string): Promise<string | null> {
    if (/^[CGD][A-Z0-9]{2,}$/.test(target)) return target;
    const name = target.replace(/^#/, '');
    const hit = this.#channelIds.get(name);
    if (hit !== undefined) return hit;
    const id = await this.#api.channelIdByName(name);
    if (id !== null) this.#channelIds.set(name, id);
    return id;
  }

  /** DMs every eligible approver the message (and updates the DMs later); one failure retries them all. */
  async #dmApprovers(req: ActionRequest, message: SlackMessage, d: Delivery): Promise<void> {
    const failed: string[] = [];
    for (const email of await this.#eligibleApprovers(req)) {
      const target = `dm:${email}`;
      try {
        const saved = await this.#o.store.getChannelMessage(this.name, req.id, target);
        // Only the first announcement opens new DMs; later ones update those that exist.
        if (saved === null && d.kind !== 'request.created') continue;
        const dm = await this.#dmChannel(email);
        if (dm === null) continue; // nobody in this workspace has that email
        await this.#postOrUpdate(req, target, message, d, () => Promise.resolve(dm), dm);
      } catch (err) {
        failed.push(email);
        this.#o.logger.warn({ err, requestId: req.id, approver: email }, 'could not DM an approver');
      }
    }
    if (failed.length > 0) throw new Error(`could not DM ${failed.length} approver(s)`);
  }

  /** Tells the person behind the request how it ended, by DM, once. */
  async #tellRequester(req: ActionRequest, d: Delivery): Promise<void> {
    const email = requesterPerson(req);
    if (email === null) return;
    const target = REQUESTER_TARGET;
    if ((await this.#o.store.getChannelMessage(this.name, req.id, target)) !== null) return;
    const dm = await this.#dmChannel(email);
    if (dm === null) {
      this.#o.logger.info({ requestId: req.id }, 'the requester has no Slack account to tell the outcome to');
      return;
    }
    const found = d.attempt > 1 ? await this.#find(req.id, target, d, () => Promise.resolve(dm)) : null;
    if (found !== null) return this.#save(req.id, target, found);
    const text = buildOutcomeText(toView(req), this.#o.publicUrl);
    const sent = await this.#api.postMessage({ channel: dm, text, metadata: { requestId: req.id, target } });
    await this.#save(req.id, target, sent);
  }

  /** The DM channel with the Slack user of `email`, or null when the workspace has no such user. */
  async #dmChannel(email: string): Promise<string | null> {
    const user = this.#userByEmail.get(email) ?? (await this.#api.userIdByEmail(email));
    return user === null ? null : this.#api.openDm(user);
  }

  /** The people who may approve `req`: `user:` approvers and the people in `group:` approvers, by email. */
  async #eligibleApprovers(req: ActionRequest): Promise<string[]> {
    const approvers = req.approval?.approvers ?? [];
    const groups = new Set(approvers.filter((a) => a.startsWith('group:')).map((a) => a.slice(6)));
    const emails = new Set(
      approvers.filter((a) => a.startsWith('user:')).map((a) => a.slice(5).trim().toLowerCase()),
    );
    if (groups.size > 0) {
      for (const k of await liveHumanKeys(this.#o.store, this.#o.clock)) {
        if (k.email && k.groups.some((g) => groups.has(g))) emails.add(k.email.toLowerCase());
      }
    }
    const excluded = excludedPersons(req);
    return [...emails].filter((e) => !excluded.has(e)).sort();
  }
}

function refOf(ref: Record<string, string>): PostedMessage | null {
  return typeof ref.channel === 'string' && typeof ref.ts === 'string'
    ? { channel: ref.channel, ts: ref.ts }
    : null;
}
