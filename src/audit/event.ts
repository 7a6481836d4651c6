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

/**
 * The leaf text of an event whose `actor` and `data` are given already in their canonical (JCS) form, as
 * the store writes them: the members concatenated in JCS key order (actor, at, data, requestId, seq,
 * type). The same text as `canonicalJson(record)` (tested), without parsing `actor` and `data` back and
 * canonicalizing them again: the store computes it for every event it appends.
 */
export function canonicalLeafText(e: {
  seq: number;
  at: string;
  type: string;
  requestId: string | null;
  actorJcs: string;
  dataJcs: string;
}): string {
  if (!Number.isSafeInteger(e.seq)) throw new Error(`audit seq must be a safe integer, got ${e.seq}`);
  const requestId = e.requestId === null ? 'null' : canonicalJson(e.requestId);
  return `{"actor":${e.actorJcs},"at":${canonicalJson(e.at)},"data":${e.dataJcs},"requestId":${requestId},"seq":${e.seq},"type":${canonicalJson(e.type)}}`;
}

/** The leaf bytes: the RFC 8785 (JCS) canonical form of the record. */
export function leafBytes(record: AuditRecord | Record<string, unknown>): Buffer {
  return Buffer.from(canonicalJson(record), 'utf8');
}
