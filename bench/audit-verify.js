// Full offline verification throughput of an exported audit log (target: >= 300,000 events/s):
// JSON Lines read in chunks, canonical form (JCS) checked, leaves and nodes hashed, checkpoint
// signature checked, root compared. Needs `npm run build` first.
//
//   node bench/audit-verify.js [--quick]     (1,000,000 events; --quick: 100,000)
//
// Timed as `countersign audit verify` runs it (verifyLogFile's defaults: worker threads, one per core,
// for a file this size), then again in one thread (`threads: 0`) as a diagnostic of the per-core cost.
import { createHash } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatCheckpoint } from '../dist/audit/checkpoint.js';
import { leafBytes } from '../dist/audit/event.js';
import { TreeBuilder, fastLeafHash } from '../dist/audit/merkle.js';
import { generateSignerKey, signNote, signerFromPrivateKey } from '../dist/audit/note.js';
import { verifyLogFile } from '../dist/audit/verify-log.js';

const TYPES = [
  'request.submitted',
  'request.decided',
  'review.recorded',
  'request.approved',
  'token.redeemed',
];
const CHANNELS = ['api', 'cli', 'web', 'slack', 'teams'];

/** A realistic event: the shape of src/audit/event.ts AuditRecord, parameters masked. */
function event(seq) {
  const reviewer = seq % 5 === 2;
  return {
    seq,
    at: new Date(Date.UTC(2026, 0, 1) + seq * 250).toISOString(),
    type: TYPES[seq % TYPES.length],
    requestId: `req_${Math.floor(seq / 4)
      .toString(36)
      .padStart(12, '0')}`,
    actor: {
      id: reviewer ? `oidc|${seq % 113}` : `key_${(seq % 37).toString(16)}`,
      kind: reviewer ? 'human' : 'agent',
      personId: reviewer ? `reviewer${seq % 113}@example.com` : null,
      channel: CHANNELS[seq % CHANNELS.length],
    },
    data: {
      action: 'data.export',
      resource: `db://prod/customers/${seq % 1000}`,
      environment: 'production',
      digest: `sha256:${createHash('sha256').update(String(seq)).digest('hex')}`,
      policyVersion: 'sha256:9b2d0c4f1e7a3b5c8d6e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e',
      rule: 'exports-need-approval',
      effect: 'require_approval',
      parameters: { table: '***', limit: '***', reason: '***' },
      payloadSha256: createHash('sha256').update(`payload ${seq}`).digest('hex'),
    },
  };
}

async function writeExport(path, n) {
  const out = createWriteStream(path);
  const tree = new TreeBuilder();
  let batch = [];
  for (let seq = 1; seq <= n; seq++) {
    const leaf = leafBytes(event(seq));
    tree.append(fastLeafHash(leaf));
    batch.push(leaf.toString('utf8'));
    if (batch.length === 10_000 || seq === n) {
      if (!out.write(`${batch.join('\n')}\n`)) await new Promise((r) => out.once('drain', r));
      batch = [];
    }
  }
  await new Promise((resolve, reject) => out.end((err) => (err ? reject(err) : resolve())));
  return tree.root();
}

/** @param {{quick?: boolean}} [opts] */
export async function runAuditVerifyBench({ quick = false } = {}) {
  const events = quick ? 100_000 : 1_000_000;
  const dir = mkdtempSync(join(tmpdir(), 'countersign-audit-bench-'));
  try {
    const file = join(dir, 'events.jsonl');
    const root = await writeExport(file, events);
    const signer = signerFromPrivateKey(generateSignerKey('bench.countersign/audit'));
    const checkpoint = signNote(formatCheckpoint({ origin: 'bench.countersign/audit', size: events, root }), [
      signer,
    ]);
    // One warm-up pass over a slice of the work would skew nothing; V8 warms up within the first chunk.
    const timed = async (opts) => {
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      const result = await verifyLogFile(file, { checkpoint, key: signer.verifierKey, ...opts });
      const seconds = (performance.now() - t0) / 1000;
      // Process CPU time (all threads) too: on a shared machine wall-clock throughput understates
      // what free cores do.
      const cpu = process.cpuUsage(cpu0);
      const cpuSeconds = (cpu.user + cpu.system) / 1e6;
      if (!result.ok) throw new Error(`benchmark export did not verify: ${JSON.stringify(result.problems)}`);
      return {
        eventsPerSecond: Math.round(events / seconds),
        seconds,
        cpuSeconds,
        eventsPerCpuSecond: Math.round(events / cpuSeconds),
        nonCanonicalLines: result.nonCanonicalLines,
      };
    };
    const main = await timed({});
    const oneThread = await timed({ threads: 0 });
    return { ...main, events, cores: availableParallelism(), oneThread };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await runAuditVerifyBench({ quick: process.argv.includes('--quick') });
  console.log(
    `audit verify: ${r.events.toLocaleString('en-US')} events in ${r.seconds.toFixed(2)} s = ` +
      `${r.eventsPerSecond.toLocaleString('en-US')} events/s (target >= 300,000); ` +
      `${r.eventsPerCpuSecond.toLocaleString('en-US')} events per CPU-second (${r.cores} cores); ` +
      `in one thread: ${r.oneThread.eventsPerSecond.toLocaleString('en-US')} events/s, ` +
      `${r.oneThread.eventsPerCpuSecond.toLocaleString('en-US')} per CPU-second`,
  );
}
