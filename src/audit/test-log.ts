/** Builds realistic signed exports for tests and benchmarks of offline verification. */
import { formatCheckpoint } from './checkpoint.js';
import { leafBytes, type AuditRecord } from './event.js';
import { TreeBuilder, fastLeafHash } from './merkle.js';
import { signNote, type NoteSigner } from './note.js';

export function syntheticEvent(seq: number): AuditRecord {
  const id = `req_${(seq >> 2).toString(36).padStart(10, '0')}`;
  return {
    seq,
    at: new Date(Date.UTC(2026, 0, 1) + seq * 1000).toISOString(),
    type: ['request.submitted', 'request.decided', 'review.recorded', 'request.approved'][seq % 4]!,
    requestId: id,
    actor: { id: `key_${seq % 97}`, kind: 'agent', personId: 'alice@example.com', channel: 'api' },
    data: {
      action: 'data.export',
      resource: 'db://prod/customers',
      environment: 'production',
      digest: `sha256:${(seq * 2654435761).toString(16).padStart(64, '0')}`,
      policyVersion: 'sha256:3f1c9a0b7d2e4f6a',
      rule: 'exports-need-approval',
      effect: 'require_approval',
      parameters: { table: '***', limit: '***', note: 'caf\u00e9 \u2014 \ud83d\udd12' },
    },
  };
}

/** The JSONL export (each line in JCS form) and the root of its first `size` events. */
export function exportLines(events: AuditRecord[]): string[] {
  return events.map((e) => leafBytes(e).toString('utf8'));
}

export function rootOfLines(lines: string[]): Buffer {
  const tree = new TreeBuilder();
  for (const l of lines) tree.append(fastLeafHash(leafBytes(JSON.parse(l) as Record<string, unknown>)));
  return tree.root();
}

export function signedCheckpoint(origin: string, lines: string[], signer: NoteSigner): string {
  return signNote(formatCheckpoint({ origin, size: lines.length, root: rootOfLines(lines) }), [signer]);
}
