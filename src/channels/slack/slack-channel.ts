import { toView } from '../../gateway/view.js';
import type { Store } from '../../store/store.js';
import type { Channel, Delivery } from '../channel.js';
import { buildSlackMessage } from './message.js';
import type { SlackApi } from './slack-api.js';

/**
 * Posts a request's approval message to each Slack target and edits it in place afterwards. Each delivery
 * renders the request as it is now (read from the store, masked), so deliveries that arrive late or out of
 * order never show an older state; a target that has a message already is updated, never posted twice.
 */
export class SlackChannel implements Channel {
  readonly name = 'slack';
  readonly #api: SlackApi;
  readonly #store: Store;

  constructor(api: SlackApi, store: Store) {
    this.#api = api;
    this.#store = store;
  }

  async deliver(d: Delivery): Promise<void> {
    const target = targetOf(d.payload);
    const req = await this.#store.getRequest(d.requestId);
    if (req === null) throw new Error(`request ${d.requestId} does not exist`);
    const message = buildSlackMessage(toView(req));
    const posted = await this.#store.getSlackMessage(req.id, target);
    if (posted === null) {
      const { channel, ts } = await this.#api.postMessage({ channel: target, ...message });
      await this.#store.saveSlackMessage({ requestId: req.id, target, channel, ts });
      return;
    }
    await this.#api.update({ channel: posted.channel, ts: posted.ts, ...message });
  }
}

function targetOf(payload: unknown): string {
  const target = (payload as { target?: unknown } | null)?.target;
  if (typeof target !== 'string' || target === '') throw new Error('slack delivery without a target');
  return target;
}
