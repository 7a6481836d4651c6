// Audit store benchmark (issue 3): append throughput inside the gateway's own transactions, and
// inclusion / consistency proof latency at 1,000,000 events, on SQLite and on PostgreSQL.
//
//   npm run build && node bench/audit-store.js [--quick] [--proofs-only] [--keep NAME]
//     --quick        100,000 events and 2 s of appends, for trying it out
//     --proofs-only  skip the append throughput part
//     --keep NAME    keep the bulk-loaded proof databases (PostgreSQL schema NAME, SQLite file in
//                    $TMPDIR/countersign-bench-NAME/) and reuse them on the next run with the same NAME,
//                    to repeat proof timings without reloading; drop the schema by hand when done
//   COUNTERSIGN_BENCH_PG_URL  PostgreSQL server (default postgres://postgres@127.0.0.1:5432/test);
//                             skipped with a message when unreachable.
//
// The 1M-event logs are bulk-loaded straight into audit_events and audit_nodes (leaf and node hashes
// computed here exactly as the store computes them), then proofs are asked of the store as the HTTP
// route asks them.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import { leafBytes, toRecord } from '../dist/audit/event.js';
import { leafHash, nodeHash } from '../dist/audit/hash.js';
import { proveConsistency, proveInclusion } from '../dist/audit/tree-store.js';
import { systemClock } from '../dist/core/clock.js';
import { Gateway } from '../dist/gateway/gateway.js';
import { loadPayloadKeyring, sealPayload } from '../dist/audit/payload-crypto.js';
import { createLogger } from '../dist/logger.js';
import { loadPolicyFile } from '../dist/policy/load-policy.js';
import { auditNodeKey } from '../dist/store/audit-node-key.js';
import { openStore } from '../dist/store/open-store.js';
import { rowToAuditEvent } from '../dist/store/rows.js';
import { summarize } from './policy-eval.js';

const PG_URL = process.env.COUNTERSIGN_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const POLICY = fileURLToPath(new URL('../examples/policy.yaml', import.meta.url));
const WRITERS = 50;
const PROOFS = 2_000;
const BATCH = 10_000;

const t0 = Date.now();
/** @param {string} line */
const log = (line) => console.error(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${line}`);

/** A synthetic but realistic audit row (the size of a request.submitted event). */
function benchRow(seq) {
  return {
    seq,
    at: new Date(Date.UTC(2026, 0, 1) + seq * 1000).toISOString(),
    type: 'request.submitted',
    request_id: `req_${seq.toString(16).padStart(24, '0')}`,
    actor: JSON.stringify({ id: 'ak_0123456789abcdef', kind: 'agent', personId: null, channel: 'api' }),
    data: JSON.stringify({
      action: 'service.restart',
      resource: 'k8s://prod/deploy/api',
      environment: 'production',
      digest: `sha256:${'ab'.repeat(32)}`,
      policyVersion: `sha256:${'cd'.repeat(32)}`,
      rule: 'prod-restarts',
      effect: 'require_approval',
      payloadSha256: 'ef'.repeat(32),
    }),
  };
}

/**
 * Generates `n` events and every perfect subtree hash over them, in batches, and hands each batch to
 * `insert(events, nodes)`: the same climb as the store's append, with the right edge kept in memory.
 */
async function bulkLoad(n, insert) {
  const edge = new Map();
  for (let start = 1; start <= n; start += BATCH) {
    const events = [];
    const nodes = [];
    for (let seq = start; seq < Math.min(start + BATCH, n + 1); seq++) {
      const row = benchRow(seq);
      events.push(row);
      let hash = leafHash(leafBytes(toRecord(rowToAuditEvent(row))));
      let level = 0;
      let idx = seq - 1;
      nodes.push({ level, idx, hash: hash.toString('hex') });
      while (idx % 2 === 1) {
        hash = nodeHash(edge.get(level), hash);
        edge.delete(level);
        level++;
        idx = (idx - 1) / 2;
        nodes.push({ level, idx, hash: hash.toString('hex') });
      }
      edge.set(level, hash);
    }
    await insert(events, nodes);
    if ((start - 1) % (BATCH * 20) === 0 || start + BATCH > n) {
      log(
        `  loaded ${Math.min(start + BATCH - 1, n).toLocaleString('en-US')} of ${n.toLocaleString('en-US')} events`,
      );
    }
  }
}

function sqliteLoader(file) {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF'); // setup only: the measured store reopens it durable
  const ev = db.prepare(
    'insert into audit_events (seq, at, type, request_id, actor, data) values (?, ?, ?, ?, ?, ?)',
  );
  const nd = db.prepare('insert into audit_nodes (pos, hash) values (?, ?)');
  const tx = db.transaction((events, nodes) => {
    for (const e of events) ev.run(e.seq, e.at, e.type, e.request_id, e.actor, e.data);
    for (const x of nodes) nd.run(auditNodeKey(x.level, x.idx), x.hash);
  });
  return { insert: async (events, nodes) => tx(events, nodes), close: async () => db.close() };
}

async function pgLoader(schema) {
  const client = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${schema}` });
  await client.connect();
  return {
    insert: async (events, nodes) => {
      await client.query('begin');
      await client.query(
        `insert into audit_events (seq, at, type, request_id, actor, data)
         select * from unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])`,
        [
          events.map((e) => e.seq),
          events.map((e) => e.at),
          events.map((e) => e.type),
          events.map((e) => e.request_id),
          events.map((e) => e.actor),
          events.map((e) => e.data),
        ],
      );
      await client.query(
        `insert into audit_nodes (pos, hash) select * from unnest($1::bigint[], $2::text[])`,
        [nodes.map((x) => auditNodeKey(x.level, x.idx)), nodes.map((x) => x.hash)],
      );
      await client.query('commit');
    },
    close: async () => {
      await client.query('analyze audit_nodes');
      // Flush the bulk load's dirty pages now, so the proof timings measure a settled server rather than
      // one busy writing a gigabyte behind them (needs superuser; skipped otherwise).
      await client.query('checkpoint').catch(() => {});
      await client.end();
    },
  };
}

/** Submissions through the real Gateway (policy, digest, payload encryption, audit + tree in one transaction). */
async function appendThroughput(store, seconds, dataDir) {
  const policy = await loadPolicyFile(POLICY);
  const keys = await loadPayloadKeyring({ payloadKeys: [], payloadKeyId: null }, dataDir);
  const gateway = new Gateway({
    store,
    policy: () => policy,
    clock: systemClock,
    logger: createLogger('silent'),
    sealPayload: (id, p) => sealPayload(keys, id, p),
  });
  const principal = {
    id: 'ak_bench',
    kind: 'agent',
    name: 'bench',
    email: null,
    groups: [],
    roles: [],
    owner: 'owner@example.com',
    attributes: {},
    personId: null,
  };
  const input = (i) => ({
    action: i % 2 ? 'read.logs' : 'service.restart',
    resource: 'k8s://prod/deploy/api',
    environment: 'production',
    parameters: { lines: i },
    reason: 'bench',
    context: {},
    onBehalfOf: null,
  });
  const before = await store.auditTreeSize();
  const stopAt = Date.now() + seconds * 1000;
  const started = Date.now();
  let submissions = 0;
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, w) => {
      for (let i = w; Date.now() < stopAt; i += WRITERS) {
        await gateway.submit(principal, input(i), null);
        submissions++;
      }
    }),
  );
  const elapsed = (Date.now() - started) / 1000;
  const events = (await store.auditTreeSize()) - before;
  return { writers: WRITERS, seconds: elapsed, submissions, events, eventsPerSecond: events / elapsed };
}

async function proofLatency(store, size) {
  const inclusion = [];
  const consistency = [];
  for (let i = 0; i < PROOFS; i++) {
    const index = Math.floor(Math.random() * size);
    let t = process.hrtime.bigint();
    await proveInclusion(store, index, size);
    inclusion.push(Number(process.hrtime.bigint() - t) / 1e6);
    const from = 1 + Math.floor(Math.random() * (size - 1));
    t = process.hrtime.bigint();
    await proveConsistency(store, from, size);
    consistency.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return { proofs: PROOFS, size, inclusionMs: summarize(inclusion), consistencyMs: summarize(consistency) };
}

async function pgReachable() {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** How many events a kept proof database already holds (0 when it is missing or not fully loaded). */
async function keptEvents(admin, schema, file) {
  if (!existsSync(file)) return 0;
  const db = new Database(file, { readonly: true });
  let n = 0;
  try {
    n = db.prepare('select count(*) as n from audit_events').get().n;
  } catch {
    n = 0;
  } finally {
    db.close();
  }
  if (!admin) return n;
  const found = await admin.query('select 1 from pg_namespace where nspname = $1', [schema]);
  if (found.rows.length === 0) return 0;
  const pgCount = await admin
    .query(`select count(*)::int as n from "${schema}".audit_events`)
    .catch(() => null);
  return pgCount?.rows[0]?.n === n ? n : 0;
}

/**
 * @param {{ quick?: boolean, proofsOnly?: boolean, keep?: string | null }} opts
 * @returns {Promise<Record<string, unknown>>}
 */
export async function runAuditStoreBench({ quick = false, proofsOnly = false, keep = null } = {}) {
  const events = quick ? 100_000 : 1_000_000;
  const appendSeconds = quick ? 2 : 10;
  const results = { events, sqlite: {}, postgres: null };
  const dir = await mkdtemp(join(tmpdir(), 'countersign-audit-bench-'));
  const usePg = await pgReachable();
  if (!usePg) log(`PostgreSQL not reachable at ${PG_URL}: its half is skipped`);
  if (keep !== null && !/^[a-z_][a-z0-9_]{0,50}$/.test(keep)) throw new Error(`--keep: invalid name ${keep}`);
  const schema = keep ?? `cs_bench_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const keepDir = keep === null ? dir : join(tmpdir(), `countersign-bench-${keep}`);
  const admin = usePg ? new pg.Client({ connectionString: PG_URL }) : null;
  try {
    if (admin) {
      await admin.connect();
      results.postgres = {};
    }
    const file = join(keepDir, 'proofs.db');
    const reuse = keep !== null && (await keptEvents(admin, schema, file)) === events;
    if (admin && !reuse) {
      await admin.query(`drop schema if exists "${schema}" cascade`);
      await admin.query(`create schema "${schema}"`);
    }

    // 1. Appends through the gateway, each store on a fresh database.
    if (!proofsOnly) await appends(results, dir, admin, schema, appendSeconds);

    // 2. One pass of hashing feeds both bulk loads.
    if (reuse) {
      log(`reusing the ${events.toLocaleString('en-US')}-event proof databases kept as ${keep}`);
    } else {
      log(
        `bulk-loading ${events.toLocaleString('en-US')} events and their tree into SQLite${admin ? ' and PostgreSQL' : ''}`,
      );
      await mkdir(keepDir, { recursive: true });
      await rm(file, { force: true });
      await (await openStore(`sqlite:${file}`)).close();
      if (admin) await (await openStore(PG_URL, { schema })).close();
      const loaders = [sqliteLoader(file), ...(admin ? [await pgLoader(schema)] : [])];
      await bulkLoad(events, (ev, nodes) => Promise.all(loaders.map((l) => l.insert(ev, nodes))));
      for (const l of loaders) await l.close();
    }

    // 3. Proofs, as the HTTP routes ask for them.
    let store = await openStore(`sqlite:${file}`);
    log(`SQLite: ${PROOFS} inclusion + ${PROOFS} consistency proofs at size ${events}`);
    results.sqlite.proofs = await proofLatency(store, events);
    await store.close();
    log(
      `  inclusion p99 ${results.sqlite.proofs.inclusionMs.p99.toFixed(3)} ms, consistency p99 ${results.sqlite.proofs.consistencyMs.p99.toFixed(3)} ms`,
    );
    if (admin) {
      store = await openStore(PG_URL, { schema });
      log(`PostgreSQL: ${PROOFS} inclusion + ${PROOFS} consistency proofs at size ${events}`);
      results.postgres.proofs = await proofLatency(store, events);
      await store.close();
      log(
        `  inclusion p99 ${results.postgres.proofs.inclusionMs.p99.toFixed(3)} ms, consistency p99 ${results.postgres.proofs.consistencyMs.p99.toFixed(3)} ms`,
      );
    }
  } finally {
    if (admin) {
      if (keep === null) await admin.query(`drop schema if exists "${schema}" cascade`).catch(() => {});
      await admin.end();
    }
    await rm(dir, { recursive: true, force: true });
  }
  return results;
}

/** Part 1: append throughput through the gateway on SQLite and PostgreSQL, each on a fresh database. */
async function appends(results, dir, admin, schema, appendSeconds) {
  {
    log(`SQLite: append throughput, ${WRITERS} writers for ${appendSeconds} s`);
    const store = await openStore(`sqlite:${join(dir, 'append.db')}`);
    results.sqlite.append = await appendThroughput(store, appendSeconds, dir);
    await store.close();
    log(`  ${results.sqlite.append.eventsPerSecond.toFixed(0)} events/s`);
  }
  if (admin) {
    log(`PostgreSQL: append throughput, ${WRITERS} writers for ${appendSeconds} s`);
    const appendSchema = `${schema}_a`;
    await admin.query(`create schema "${appendSchema}"`);
    const store = await openStore(PG_URL, { schema: appendSchema });
    results.postgres.append = await appendThroughput(store, appendSeconds, dir);
    await store.close();
    await admin.query(`drop schema "${appendSchema}" cascade`);
    log(`  ${results.postgres.append.eventsPerSecond.toFixed(0)} events/s`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const keepAt = process.argv.indexOf('--keep');
  const results = await runAuditStoreBench({
    quick: process.argv.includes('--quick'),
    proofsOnly: process.argv.includes('--proofs-only'),
    keep: keepAt > 0 ? (process.argv[keepAt + 1] ?? null) : null,
  });
  console.log(JSON.stringify(results, null, 2));
}
