import type { Logger } from 'pino';
import type { ActionRequest } from '../../core/types.js';
import { toView } from '../../gateway/view.js';
import type { DeliveryKind, Store } from '../../store/store.js';
import { deliveryTarget, requesterPerson, RetryLaterError, type Channel, type Delivery } from '../channel.js';
import { parseNotifyTarget } from '../routing.js';
import type { BotConnector, ConversationRef, OutgoingActivity } from './bot-connector.js';
import { buildOutcomeText, buildTeamsCard, cardAttachment } from './card.js';

/** The virtual target the channel adds itself: the outcome, told to the person behind the request. */
export const REQUESTER_TARGET = '@requester';

interface PostedCard {
  conv: ConversationRef;
  activityId: string;
}

export interface TeamsChannelOptions {
  store: Store;
  logger: Logger;
  publicUrl: string | null;
  /** `channels.teams.conversations`: what `notify: [teams:NAME]` names. */
  conversations: Readonly<Record<string, ConversationRef>>;
}

/**
 * Posts a request's approval card proactively to each named Teams conversation and replaces it after each
 * review and on the final state; tells the person behind the request the outcome in a reply to the card.
 *
 * Each delivery renders the request as it is now (read from the store, masked), so deliveries that arrive
 * late or out of order never show an older state. A conversation with a recorded card is updated, never
 * posted to again. (The Bot Connector has no way to read back what a bot posted, so unlike Slack a post
 * whose answer was lost cannot be found again: that rare case can show a second card.)
 */
export class TeamsChannel implements Channel {
  readonly name = 'teams';
  readonly #connector: BotConnector;
  readonly #o: TeamsChannelOptions;
  readonly #warned = new Set<string>();

  constructor(connector: BotConnector, options: TeamsChannelOptions) {
    this.#connector = connector;
    this.#o = options;
  }

  targets(req: ActionRequest, kind: DeliveryKind, named: readonly string[]): string[] {
    if (kind === 'execution.finished') return [];
    const out = named.filter((name) => this.#known(name, req.policy.rule));
    if (
      out.length > 0 &&
      (kind === 'request.decided' || kind === 'request.expired') &&
      requesterPerson(req) !== null
    ) {
      out.push(REQUESTER_TARGET);
    }
    return out;
  }

  async deliver(d: Delivery): Promise<void> {
    const target = deliveryTarget(d);
    const req = await this.#o.store.getRequest(d.requestId);
    if (req === null) throw new Error(`request ${d.requestId} does not exist`);
    if (target === REQUESTER_TARGET) return this.#tellRequester(req);
    const conv = this.#conversation(target);
    if (conv === null) {
      // Written before a config change removed the name: nothing to send it to, and retrying cannot help.
      this.#o.logger.warn({ requestId: req.id, conversation: target }, 'no Teams conversation of that name');
      return;
    }
    await this.#postOrUpdate(req, target, conv);
  }

  /** Posts the card for (request, conversation) once, or replaces the one posted. */
  async #postOrUpdate(req: ActionRequest, name: string, conv: ConversationRef): Promise<void> {
    const saved = await this.#savedCard(req.id, name);
    // Where it was posted, even if the config has moved the name since.
    if (saved !== null) return this.#connector.update(saved.conv, saved.activityId, this.#cardActivity(req));
    await this.#post(req, name, conv);
  }

  /** The card posted for (request, conversation), posting it now if it is not out yet. */
  async #card(req: ActionRequest, name: string, conv: ConversationRef): Promise<PostedCard> {
    return (await this.#savedCard(req.id, name)) ?? this.#post(req, name, conv);
  }

  async #post(req: ActionRequest, name: string, conv: ConversationRef): Promise<PostedCard> {
    const activityId = await this.#connector.send(conv, this.#cardActivity(req));
    await this.#o.store.saveChannelMessage({
      channel: this.name,
      requestId: req.id,
      target: name,
      ref: { serviceUrl: conv.serviceUrl, conversationId: conv.conversationId, activityId },
    });
    return { conv, activityId };
  }

  async #savedCard(requestId: string, name: string): Promise<PostedCard | null> {
    return refOf((await this.#o.store.getChannelMessage(this.name, requestId, name))?.ref);
  }

  #cardActivity(req: ActionRequest): OutgoingActivity {
    const card = buildTeamsCard(toView(req), this.#o.publicUrl);
    return { type: 'message', attachments: [cardAttachment(card)] };
  }

  /**
   * Tells the person behind the request how it ended: a reply to the card in each conversation it went to,
   * once per conversation. A conversation whose card is not out yet (Teams was down) gets it first.
   */
  async #tellRequester(req: ActionRequest): Promise<void> {
    const person = requesterPerson(req);
    if (person === null) return;
    const text = buildOutcomeText(toView(req), person, this.#o.publicUrl);
    const failed: string[] = [];
    let retryAfterMs = 0;
    for (const name of this.#namedConversations(req)) {
      const target = `${REQUESTER_TARGET}:${name}`;
      try {
        if ((await this.#o.store.getChannelMessage(this.name, req.id, target)) !== null) continue;
        const card = await this.#card(req, name, this.#conversation(name) as ConversationRef);
        const activityId = await this.#connector.reply(card.conv, card.activityId, {
          type: 'message',
          text,
          textFormat: 'plain',
        });
        await this.#o.store.saveChannelMessage({
          channel: this.name,
          requestId: req.id,
          target,
          ref: { serviceUrl: card.conv.serviceUrl, conversationId: card.conv.conversationId, activityId },
        });
      } catch (err) {
        failed.push(name);
        if (err instanceof RetryLaterError) retryAfterMs = Math.max(retryAfterMs, err.retryAfterMs);
        this.#o.logger.warn({ err, requestId: req.id, conversation: name }, 'could not tell the requester');
      }
    }
    if (failed.length > 0) {
      const message = `could not tell the requester in ${failed.join(', ')}`;
      throw retryAfterMs > 0 ? new RetryLaterError(message, retryAfterMs) : new Error(message);
    }
  }

  /** The configured conversations the request's rule names (`notify: [teams:NAME]`). */
  #namedConversations(req: ActionRequest): string[] {
    const names = new Set<string>();
    for (const entry of req.notify) {
      const t = parseNotifyTarget(entry);
      if (t?.channel === this.name && this.#conversation(t.target) !== null) names.add(t.target);
    }
    return [...names];
  }

  #conversation(name: string): ConversationRef | null {
    return Object.hasOwn(this.#o.conversations, name) ? (this.#o.conversations[name] ?? null) : null;
  }

  /** Whether `name` is a configured conversation; warns once per unknown name (no I/O: a log line). */
  #known(name: string, rule: string | null): boolean {
    if (this.#conversation(name) !== null) return true;
    if (!this.#warned.has(name)) {
      this.#warned.add(name);
      this.#o.logger.warn(
        { conversation: name, rule },
        'a policy rule notifies a Teams conversation that channels.teams.conversations does not name; skipped',
      );
    }
    return false;
  }
}

function refOf(ref: Record<string, string> | undefined): PostedCard | null {
  if (ref === undefined) return null;
  const { serviceUrl, conversationId, activityId } = ref;
  return typeof serviceUrl === 'string' &&
    typeof conversationId === 'string' &&
    typeof activityId === 'string'
    ? { conv: { serviceUrl, conversationId }, activityId }
    : null;
}
