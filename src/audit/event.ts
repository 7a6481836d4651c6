import { canonicalJson } from '../core/digest.js';
import type { AuditEvent } from '../core/types.js';

/**
 * The public form of an audit event: exactly what an export line holds and what the Merkle leaf hashes.
 * `seq` is 1-based; the event's leaf index in the tree is `seq - 1`.
 */
export interface AuditRecord {
  seq: number;
  at: string;
  type: string;
  requestId: string | null;
  actor: AuditEvent['actor'];
  data: Record<string, unknown>;
}

export function toRecord(e: AuditEvent): AuditRecord {
  return { seq: e.seq, at: e.at, type: e.type, requestId: e.requestId, actor: e.actor, data: e.data };
}

/** The leaf bytes: the RFC 8785 (JCS) canonical form of the record. */
export function leafBytes(record: AuditRecord | Record<string, unknown>): Buffer {
  return Buffer.from(canonicalJson(record), 'utf8');
}
