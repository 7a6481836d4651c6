/** Row <-> domain mapping of the outbox. */
import type { OutboxTable } from './schema.js';
import type { NewDelivery, OutboxDelivery } from './store.js';

/** A new delivery is pending and due at once. */
export function deliveryToRow(d: NewDelivery): OutboxTable {
  return {
    id: d.id,
    channel: d.channel,
    kind: d.kind,
    request_id: d.requestId,
    idempotency_key: d.idempotencyKey,
    payload: JSON.stringify(d.payload ?? null),
    status: 'pending',
    attempts: 0,
    next_attempt_at: d.createdAt,
    last_error: null,
    created_at: d.createdAt,
    updated_at: d.createdAt,
  };
}

export function rowToDelivery(row: OutboxTable): OutboxDelivery {
  return {
    id: row.id,
    channel: row.channel,
    kind: row.kind as OutboxDelivery['kind'],
    requestId: row.request_id,
    idempotencyKey: row.idempotency_key,
    payload: JSON.parse(row.payload) as unknown,
    status: row.status as OutboxDelivery['status'],
    attempts: Number(row.attempts),
    nextAttemptAt: row.next_attempt_at,
    lastError: row.last_error,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
