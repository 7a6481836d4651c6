import { randomBytes } from 'node:crypto';
import type { ActionRequest } from '../core/types.js';
import { toView } from '../gateway/view.js';
import type { DeliveryKind, NewDelivery } from '../store/store.js';
import type { Channel } from './channel.js';

/** A policy `notify:` entry split into its channel and target: `slack:#prod` → `slack`, `#prod`. */
export function parseNotifyTarget(entry: string): { channel: string; target: string } | null {
  const i = entry.indexOf(':');
  if (i <= 0 || i === entry.length - 1) return null;
  return { channel: entry.slice(0, i), target: entry.slice(i + 1) };
}

/**
 * The outbox deliveries a state change of `req` asks for: for each configured channel the rule notifies,
 * one per target the channel accepts (see `Channel.targets`); entries naming channels that are not
 * configured are skipped, so a gateway without channels writes nothing. The idempotency key names the
 * request version, so a retried transition never doubles a delivery.
 */
export function planDeliveries(
  req: ActionRequest,
  kind: DeliveryKind,
  channels: ReadonlyMap<string, Pick<Channel, 'targets'>>,
  now: Date,
): NewDelivery[] {
  if (channels.size === 0) return [];
  const named = new Map<string, string[]>();
  for (const entry of req.notify) {
    const t = parseNotifyTarget(entry);
    if (t === null || !channels.has(t.channel)) continue;
    const list = named.get(t.channel) ?? [];
    if (!list.includes(t.target)) list.push(t.target);
    named.set(t.channel, list);
  }
  const out: NewDelivery[] = [];
  let view: ReturnType<typeof toView> | undefined;
  for (const [name, targets] of named) {
    const channel = channels.get(name) as Pick<Channel, 'targets'>;
    for (const target of new Set(channel.targets(req, kind, targets))) {
      // The stored request is masked already (invariant 8); the view is what every route shows.
      view ??= toView(req);
      out.push({
        id: `dlv_${randomBytes(12).toString('hex')}`,
        channel: name,
        kind,
        requestId: req.id,
        idempotencyKey: `${req.id}/v${req.version}/${kind}/${name}:${target}`,
        payload: { target, request: view },
        createdAt: now.toISOString(),
      });
    }
  }
  return out;
}

/**
 * The policy's `notify:` targets that no configured channel will send, with why: a malformed entry, or a
 * channel that is not configured (its notifications are skipped). Checked at start so that a typo or a
 * missing `channels:` block is said out loud instead of silently sending nothing.
 */
export function unroutedTargets(
  targets: readonly { rule: string; target: string }[],
  configured: ReadonlySet<string>,
): { rule: string; target: string; why: string }[] {
  const out: { rule: string; target: string; why: string }[] = [];
  for (const { rule, target } of targets) {
    const t = parseNotifyTarget(target);
    if (t === null)
      out.push({ rule, target, why: 'not CHANNEL:TARGET (e.g. slack:#ops, teams:ops, webhook:siem)' });
    else if (!configured.has(t.channel)) {
      out.push({
        rule,
        target,
        why: `channels.${t.channel === 'webhook' ? 'webhooks' : t.channel} is not configured`,
      });
    }
  }
  return out;
}
