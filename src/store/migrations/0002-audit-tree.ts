import type { Kysely, Migration } from 'kysely';
import { leafBytes, toRecord } from '../../audit/event.js';
import { leafHash, nodeHash } from '../../audit/hash.js';
import { rowToAuditEvent } from '../rows.js';
import type { AuditEventsTable } from '../schema.js';

/** Events hashed per round trip when a log written before this migration is backfilled. */
const BACKFILL_PAGE = 2_000;

/**
 * The audit Merkle tree (RFC 6962) kept in the store so that appends and proofs cost O(log n):
 * `audit_tree` holds the hash of every perfect subtree, (level, idx) covering leaves
 * [idx * 2^level, (idx + 1) * 2^level); `audit_checkpoints` the signed notes; `request_payloads` the
 * full submitted payloads, AES-256-GCM encrypted (only the auditor's reveal decrypts them).
 */
export const auditTree: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('audit_tree')
      .addColumn('level', 'integer', (c) => c.notNull())
      .addColumn('idx', 'integer', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('audit_tree_pk', ['level', 'idx'])
      .execute();
    await db.schema
      .createTable('audit_checkpoints')
      .addColumn('size', 'integer', (c) => c.primaryKey())
      .addColumn('root', 'text', (c) => c.notNull())
      .addColumn('note', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('request_payloads')
      .addColumn('request_id', 'text', (c) => c.primaryKey().references('requests.id'))
      .addColumn('key_id', 'text', (c) => c.notNull())
      .addColumn('iv', 'text', (c) => c.notNull())
      .addColumn('ciphertext', 'text', (c) => c.notNull())
      .addColumn('tag', 'text', (c) => c.notNull())
      .addColumn('sha256', 'text', (c) => c.notNull())
      .execute();
    await backfill(db);
  },

  async down(db: Kysely<unknown>): Promise<void> {
    for (const table of ['request_payloads', 'audit_checkpoints', 'audit_tree']) {
      await db.schema.dropTable(table).execute();
    }
  },
};

/** Builds the tree of a log written before this migration, so existing events stay provable. */
async function backfill(untyped: Kysely<unknown>): Promise<void> {
  const db = untyped as Kysely<{ audit_events: AuditEventsTable; audit_tree: TreeRow }>;
  // The right edge of the tree: the last perfect subtree hash at each level still waiting for a sibling.
  const pending = new Map<number, Buffer>();
  let after = 0;
  for (;;) {
    const rows = await db
      .selectFrom('audit_events')
      .selectAll()
      .where('seq', '>', after)
      .orderBy('seq')
      .limit(BACKFILL_PAGE)
      .execute();
    if (rows.length === 0) return;
    const nodes: TreeRow[] = [];
    for (const row of rows) {
      let index = Number(row.seq) - 1;
      let level = 0;
      let hash = leafHash(leafBytes(toRecord(rowToAuditEvent(row))));
      nodes.push({ level, idx: index, hash: hash.toString('hex') });
      while (index % 2 === 1) {
        const left = pending.get(level);
        if (left === undefined) throw new Error(`audit tree backfill: no node (${level}, ${index - 1})`);
        hash = nodeHash(left, hash);
        pending.delete(level);
        level++;
        index = (index - 1) / 2;
        nodes.push({ level, idx: index, hash: hash.toString('hex') });
      }
      pending.set(level, hash);
      after = Number(row.seq);
    }
    for (let i = 0; i < nodes.length; i += 500) {
      await db
        .insertInto('audit_tree')
        .values(nodes.slice(i, i + 500))
        .execute();
    }
  }
}

interface TreeRow {
  level: number;
  idx: number;
  hash: string;
}
