import { randomBytes } from 'node:crypto';
import type { ActionRequest } from '../core/types.js';
import { toView } from '../gateway/view.js';
import type { DeliveryKind, NewDelivery } from '../store/store.js';

/** A policy `notify:` entry split into its channel and target: `slack:#prod` → `slack`, `#prod`. */
export function parseNotifyTarget(entry: string): { channel: string; target: string } | null {
  const i = entry.indexOf(':');
  if (i <= 0 || i === entry.length - 1) return null;
  return { channel: entry.slice(0, i), target: entry.slice(i + 1) };
}

/**
 * The outbox deliveries a state change of `req` asks for: one per `notify:` target whose channel is
 * configured; targets of channels that are not configured are skipped, so a gateway without channels
 * writes nothing. The key names the request version, so a retried transition never doubles a delivery.
 */
export function planDeliveries(
  req: ActionRequest,
  kind: DeliveryKind,
  configured: ReadonlySet<string>,
  now: Date,
): NewDelivery[] {
  if (configured.size === 0) return [];
  const out: NewDelivery[] = [];
  const seen = new Set<string>();
  for (const entry of req.notify) {
    const t = parseNotifyTarget(entry);
    if (t === null || !configured.has(t.channel) || seen.has(entry)) continue;
    seen.add(entry);
    out.push({
      id: `dlv_${randomBytes(12).toString('hex')}`,
      channel: t.channel,
      kind,
      requestId: req.id,
      idempotencyKey: `${req.id}/v${req.version}/${kind}/${entry}`,
      // The stored request is masked already (invariant 8); the view is what every route shows.
      payload: { target: t.target, request: toView(req) },
      createdAt: now.toISOString(),
    });
  }
  return out;
}

/** Which delivery a transition to `next` announces. */
export function deliveryKindOf(next: ActionRequest): DeliveryKind {
  return next.status === 'pending' ? 'request.reviewed' : 'request.decided';
}
