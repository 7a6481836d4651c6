import { parseCheckpoint } from '../../src/audit/checkpoint.js';
import { leafBytes, type AuditRecord } from '../../src/audit/event.js';
import { leafHash } from '../../src/audit/hash.js';
import { openNote, verifierFromKey } from '../../src/audit/note.js';

export const AUDIT_POLICY = `
version: 1
defaults:
  effect: require_approval
  approval: { approvers: [group:platform], quorum: 1, timeout: 1h }
rules:
  - name: reads-are-free
    when: action.startsWith("read.")
    effect: allow
`;

/** Checks the note's signature with the verifier key and returns the checkpoint it signs. */
export function openCheckpoint(
  note: string,
  verifierKey: string,
): { origin: string; size: number; root: Buffer } {
  const { text } = openNote(note, [verifierFromKey(verifierKey.trim())]);
  return parseCheckpoint(text);
}

export function leafHashOf(record: AuditRecord): Buffer {
  return leafHash(leafBytes(record));
}
