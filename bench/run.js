// `npm run bench`: builds, then runs the three benchmarks in one go, prints a table, writes
// bench/results/latest.json and rewrites the results section of docs/benchmarks.md.
//
//   node bench/run.js [--quick] [--strict] [--no-docs]
//     --quick    short runs (2 s loads, 2,000 evaluations, 30 approvals) for trying the harness out;
//                its figures are not written to docs/benchmarks.md
//     --strict   exit 1 when a target is missed (default: report it and exit 0)
//     --no-docs  do not touch docs/benchmarks.md
//   BENCH_CPU_PROF=DIR  write a V8 CPU profile of the server process to DIR
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg, availableParallelism, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { runAllowPath, runApproveToResume, startServers } from './http-bench.js';
import { fork } from 'node:child_process';
import { runDlpBench } from './dlp.js';
import { runAuditVerifyBench } from './audit-verify.js';
import { runAuditStoreBench } from './audit-store.js';

const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const strict = args.has('--strict');
const writeDocs = !args.has('--no-docs') && !quick;

const RESULTS = fileURLToPath(new URL('./results/latest.json', import.meta.url));
const DOCS = fileURLToPath(new URL('../docs/benchmarks.md', import.meta.url));
const START = '<!-- bench:results:start (rewritten by `npm run bench`; edit outside these markers) -->';
const END = '<!-- bench:results:end -->';

const t0 = Date.now();
/** @param {string} line */
const log = (line) => {
  const s = ((Date.now() - t0) / 1000).toFixed(1).padStart(6);
  console.log(`[${s}s] ${line}`);
};

async function cpuModel() {
  try {
    const text = await readFile('/proc/cpuinfo', 'utf8');
    const m = /^model name\s*:\s*(.+)$/m.exec(text);
    if (m) return m[1].trim();
  } catch {
    // not Linux
  }
  return cpus()[0]?.model ?? 'unknown';
}

const load = () => loadavg().map((x) => Number(x.toFixed(2)));

/** @param {number} x @param {number} [digits] */
const fmt = (x, digits = 1) =>
  x === null || x === undefined || Number.isNaN(x)
    ? '—'
    : x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/**
 * The policy benchmark in a child process of its own (see policy-child.js for why).
 * @param {{ evaluations?: number, warmup?: number }} opts
 * @returns {Promise<Awaited<ReturnType<typeof import('./policy-eval.js').runPolicyEval>>>}
 */
function policyInChild(opts) {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(new URL('./policy-child.js', import.meta.url)), [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let settled = false;
    child.on('message', (/** @type {any} */ msg) => {
      if (typeof msg?.log === 'string') log(msg.log);
      else if (msg?.result !== undefined) {
        settled = true;
        resolve(msg.result);
      } else if (typeof msg?.error === 'string') {
        settled = true;
        reject(new Error(`policy benchmark failed: ${msg.error}`));
      }
    });
    child.once('exit', (code) => {
      if (!settled) reject(new Error(`policy benchmark process exited (code ${code}) without a result`));
    });
    child.send(opts);
  });
}

async function main() {
  const machine = {
    date: new Date().toISOString(),
    nproc: availableParallelism(),
    node: process.version,
    cpu: await cpuModel(),
    memoryGiB: Number((totalmem() / 2 ** 30).toFixed(1)),
    loadAverageAtStart: load(),
  };
  log(
    `machine: ${machine.nproc} cores, ${machine.cpu}, Node ${machine.node}, load average ${machine.loadAverageAtStart.join(' ')}`,
  );

  log('1/3 policy evaluation: 200 rules, Countersign (CEL) vs Cedar (wasm)');
  const policyLoad = load();
  const policy = await policyInChild(quick ? { evaluations: 2_000, warmup: 1_000 } : {});
  log(
    `policy: Countersign p50 ${fmt(policy.countersign.p50)} µs p99 ${fmt(policy.countersign.p99)} µs; ` +
      `Cedar p50 ${fmt(policy.cedar.p50)} µs p99 ${fmt(policy.cedar.p99)} µs`,
  );

  log(
    'starting the servers (child process): gateway on SQLite file (store thread), the same with its store on the event loop, gateway on in-memory SQLite, bare Fastify',
  );
  const servers = await startServers({ cpuProfDir: process.env.BENCH_CPU_PROF });
  let allow;
  let resume;
  let httpLoad;
  try {
    log('2/3 allow path under load (autocannon in this process, servers in the child)');
    httpLoad = load();
    allow = await runAllowPath(servers, log, quick ? { duration: 2, rounds: 1, warmup: 1 } : {});
    log('3/3 approve-to-resume');
    resume = await runApproveToResume(servers, log, quick ? { requests: 30, warmup: 5 } : {});
    log(
      `resume: approve response -> wait response p50 ${fmt(resume.fromApproveResponseMs.p50, 2)} ms, ` +
        `p99 ${fmt(resume.fromApproveResponseMs.p99, 2)} ms`,
    );
  } finally {
    await servers.stop();
  }
  log('4/6 DLP scan: ~10 MB JSON payload, Countersign vs secretlint; 2 KB submission latency');
  const dlp = await runDlpBench({ quick });
  log(
    `dlp: ${dlp.countersign.jsonMBps} MB/s (secretlint ${'MBps' in dlp.secretlint ? dlp.secretlint.MBps : 'n/a'} MB/s)`,
  );
  log('5/6 audit: full offline verification of an exported log');
  const auditVerify = await runAuditVerifyBench({ quick });
  log(`audit verify: ${auditVerify.eventsPerSecond} events/s`);
  log('6/6 audit: append throughput and proof latency at 1,000,000 events on SQLite and PostgreSQL');
  const auditStore = await runAuditStoreBench({ quick });
  machine.loadAverageAtEnd = load();

  const targets = {
    allowReqPerSec: 3_000,
    allowRatio: 0.3,
    policyP99Us: 20,
    resumeP99Ms: 50,
    dlpMBps: 50,
    dlp2kbP99Ms: 1,
    auditVerifyEventsPerSec: 300_000,
    proofP99Ms: 5,
  };
  /** @type {Array<{ bench: string, figure: string, value: string, target: string, pass: boolean | null, ratio: string }>} */
  const rows = [];
  /** @param {string} bench @param {string} figure @param {string} value @param {string} target @param {boolean|null} pass @param {string} ratio */
  const row = (bench, figure, value, target, pass, ratio) =>
    rows.push({ bench, figure, value, target, pass, ratio });

  const g = allow.gateway;
  const b = allow.bare;
  row(
    'allow path',
    `gateway throughput (best level: ${g.connections} connections)`,
    `${fmt(g.reqPerSec, 0)} req/s`,
    `≥ ${fmt(targets.allowReqPerSec, 0)} req/s`,
    g.reqPerSec >= targets.allowReqPerSec,
    `${fmt(g.reqPerSec / targets.allowReqPerSec, 2)}× target`,
  );
  row(
    'allow path',
    'gateway latency p50 / p99',
    `${fmt(g.latencyP50Ms, 0)} / ${fmt(g.latencyP99Ms, 0)} ms`,
    '—',
    null,
    '—',
  );
  row(
    'allow path',
    'gateway non-2xx / errors',
    `${g.non2xx} / ${g.errors + g.timeouts}`,
    '0',
    g.non2xx === 0 && g.errors + g.timeouts === 0,
    '—',
  );
  /** @param {number | null | undefined} ms */
  const cpu = (ms) => (ms === null || ms === undefined ? '—' : `${fmt(ms, 3)} ms`);
  row(
    'allow path',
    'server CPU per request: gateway / bare Fastify',
    `${cpu(g.serverCpuMsPerRequest)} / ${cpu(b.serverCpuMsPerRequest)}`,
    '—',
    null,
    g.serverCpuMsPerRequest && b.serverCpuMsPerRequest
      ? `${fmt(g.serverCpuMsPerRequest / b.serverCpuMsPerRequest, 1)}× bare`
      : '—',
  );
  row(
    'allow path',
    `bare Fastify throughput (baseline; best level: ${b.connections} connections)`,
    `${fmt(b.reqPerSec, 0)} req/s`,
    '—',
    null,
    '—',
  );
  row(
    'allow path',
    'bare Fastify latency p50 / p99',
    `${fmt(b.latencyP50Ms, 0)} / ${fmt(b.latencyP99Ms, 0)} ms`,
    '—',
    null,
    '—',
  );
  row(
    'allow path',
    'gateway / bare (each at its best level)',
    fmt(allow.ratio, 3),
    `≥ ${targets.allowRatio}`,
    allow.ratio >= targets.allowRatio,
    `${fmt(allow.ratio / targets.allowRatio, 2)}× target; by round ` +
      g.perRoundReqPerSec.map((x, i) => fmt(x / (b.perRoundReqPerSec[i] ?? NaN), 3)).join(', '),
  );
  for (const level of allow.levels) {
    row(
      'allow path',
      `at ${level.connections} connections: gateway / bare (req/s; p99)`,
      `${fmt(level.gateway.reqPerSec, 0)} / ${fmt(level.bare.reqPerSec, 0)} req/s; ` +
        `p99 ${fmt(level.gateway.latencyP99Ms, 0)} / ${fmt(level.bare.latencyP99Ms, 0)} ms`,
      '—',
      null,
      `${fmt(level.ratio, 3)}; by round ` +
        level.gateway.perRoundReqPerSec
          .map((/** @type {number} */ x, /** @type {number} */ i) =>
            fmt(x / (level.bare.perRoundReqPerSec[i] ?? NaN), 3),
          )
          .join(', '),
    );
  }
  const split = g.threadsMsPerRequest;
  if (split) {
    row(
      'allow path',
      'gateway CPU per request: main thread / store thread / rest',
      `${cpu(split.main)} / ${cpu(split.busiestOther)} / ${cpu(split.rest)}`,
      '—',
      null,
      '—',
    );
  }
  if (allow.inProcess) {
    const p = allow.inProcess;
    row(
      'allow path',
      `diagnostic: same gateway, SQLite store on the event loop (${allow.diagnosticConnections} connections)`,
      `${fmt(p.reqPerSec, 0)} req/s, p99 ${fmt(p.latencyP99Ms, 0)} ms, ${cpu(p.serverCpuMsPerRequest)} CPU per request`,
      '—',
      null,
      `${fmt(p.reqPerSec / b.reqPerSec, 3)} of bare; store thread ${fmt(g.reqPerSec / p.reqPerSec, 2)}×`,
    );
  }
  if (allow.memory) {
    const m = allow.memory;
    row(
      'allow path',
      `diagnostic: gateway on in-memory SQLite (${allow.diagnosticConnections} connections)`,
      `${fmt(m.reqPerSec, 0)} req/s, p99 ${fmt(m.latencyP99Ms, 0)} ms`,
      '—',
      null,
      `${fmt(m.reqPerSec / b.reqPerSec, 3)} of bare`,
    );
  }
  const c = policy.countersign;
  const k = policy.cedar;
  row(
    'policy eval',
    'Countersign p50 / p99 / mean',
    `${fmt(c.p50)} / ${fmt(c.p99)} / ${fmt(c.mean)} µs`,
    `p99 < ${targets.policyP99Us} µs`,
    c.p99 < targets.policyP99Us,
    `${fmt(c.p99 / targets.policyP99Us, 2)}× target`,
  );
  row(
    'policy eval',
    'Cedar (wasm) p50 / p99 / mean',
    `${fmt(k.p50)} / ${fmt(k.p99)} / ${fmt(k.mean)} µs`,
    '—',
    null,
    '—',
  );
  row(
    'policy eval',
    'Countersign faster than Cedar (p99)',
    `${fmt(k.p99 / c.p99)}× faster`,
    '> 1×',
    c.p99 < k.p99,
    `p50 ${fmt(k.p50 / c.p50)}×, mean ${fmt(k.mean / c.mean)}×`,
  );
  const r = resume.fromApproveResponseMs;
  row(
    'approve→resume',
    'approve response → wait response p50 / p99',
    `${fmt(r.p50, 2)} / ${fmt(r.p99, 2)} ms`,
    `p99 < ${targets.resumeP99Ms} ms`,
    r.p99 < targets.resumeP99Ms,
    `${fmt(r.p99 / targets.resumeP99Ms, 2)}× target`,
  );
  const s = resume.fromApproveSentMs;
  row(
    'approve→resume',
    'approve sent → wait response p50 / p99',
    `${fmt(s.p50, 2)} / ${fmt(s.p99, 2)} ms`,
    '—',
    null,
    '—',
  );

  const d = dlp.countersign;
  const sl = 'MBps' in dlp.secretlint ? dlp.secretlint.MBps : null;
  row(
    'DLP scan',
    `Countersign scanJson on ${dlp.payloadMB} MB JSON`,
    `${fmt(d.jsonMBps)} MB/s`,
    `≥ ${targets.dlpMBps} MB/s`,
    d.jsonMBps >= targets.dlpMBps,
    `${fmt(d.jsonMBps / targets.dlpMBps, 2)}× target`,
  );
  row(
    'DLP scan',
    'secretlint (recommend preset), same payload',
    sl === null ? `failed: ${dlp.secretlint.error}` : `${fmt(sl)} MB/s`,
    'slower than Countersign',
    sl === null ? null : d.jsonMBps > sl,
    sl === null ? '—' : `Countersign ${fmt(d.jsonMBps / sl, 2)}× faster`,
  );
  row(
    'DLP scan',
    `added latency, ${dlp.submissionBytes} B submission p50 / p99`,
    `${fmt(dlp.latency2KB.p50ms, 3)} / ${fmt(dlp.latency2KB.p99ms, 3)} ms`,
    `p99 < ${targets.dlp2kbP99Ms} ms`,
    dlp.latency2KB.p99ms < targets.dlp2kbP99Ms,
    `${fmt(dlp.latency2KB.p99ms / targets.dlp2kbP99Ms, 2)}× target`,
  );
  row(
    'audit verify',
    `full offline verification, ${auditVerify.events.toLocaleString('en-US')} events`,
    `${fmt(auditVerify.eventsPerSecond, 0)} events/s (${fmt(auditVerify.eventsPerCpuSecond, 0)} per CPU-second)`,
    `≥ ${fmt(targets.auditVerifyEventsPerSec, 0)} events/s`,
    auditVerify.eventsPerSecond >= targets.auditVerifyEventsPerSec,
    `${fmt(auditVerify.eventsPerSecond / targets.auditVerifyEventsPerSec, 2)}× target`,
  );
  for (const [name, st] of [
    ['SQLite', auditStore.sqlite],
    ['PostgreSQL', auditStore.postgres],
  ]) {
    if (!st) {
      row('audit store', `${name}`, 'not run (server unreachable)', '—', null, '—');
      continue;
    }
    row(
      'audit store',
      `${name} append inside gateway transactions`,
      `${fmt(st.append.eventsPerSecond, 0)} events/s`,
      '—',
      null,
      '—',
    );
    for (const [kind, m] of [
      ['inclusion', st.proofs.inclusionMs],
      ['consistency', st.proofs.consistencyMs],
    ]) {
      row(
        'audit store',
        `${name} ${kind} proof at ${auditStore.events.toLocaleString('en-US')} events p50 / p99`,
        `${fmt(m.p50, 2)} / ${fmt(m.p99, 2)} ms`,
        `p99 < ${targets.proofP99Ms} ms`,
        m.p99 < targets.proofP99Ms,
        `${fmt(m.p99 / targets.proofP99Ms, 2)}× target`,
      );
    }
  }

  const missed = rows.filter((x) => x.pass === false);
  const results = {
    machine,
    quick,
    loadAverage: { policy: policyLoad, http: httpLoad },
    targets,
    allowPath: allow,
    policyEvaluation: policy,
    approveToResume: resume,
    dlp,
    auditVerify,
    auditStore,
    table: rows,
    missedTargets: missed.map((x) => `${x.bench}: ${x.figure}`),
  };
  await mkdir(fileURLToPath(new URL('./results/', import.meta.url)), { recursive: true });
  await writeFile(RESULTS, `${JSON.stringify(results, null, 2)}\n`);

  console.log('');
  console.log(textTable(rows));
  console.log('');
  console.log(
    `machine: ${machine.date}, ${machine.nproc} cores, ${machine.cpu}, Node ${machine.node}, load average ${machine.loadAverageAtStart.join(' ')} → ${machine.loadAverageAtEnd.join(' ')}`,
  );
  console.log(missed.length === 0 ? 'all targets met' : `MISSED: ${results.missedTargets.join('; ')}`);
  console.log(`written: ${RESULTS}`);

  if (writeDocs) {
    await rewriteDocs(results, rows, policy);
    console.log(`written: ${DOCS} (results section)`);
  }
  log('done');
  if (strict && missed.length > 0) process.exitCode = 1;
}

/** @param {Array<Record<string, any>>} rows */
function textTable(rows) {
  const header = ['benchmark', 'figure', 'result', 'target', 'pass', 'ratio'];
  const cells = rows.map((x) => [
    x.bench,
    x.figure,
    x.value,
    x.target,
    x.pass === null ? '' : x.pass ? 'PASS' : 'FAIL',
    x.ratio,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (/** @type {string[]} */ c) => c.map((v, i) => v.padEnd(widths[i])).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

/** @param {any} results @param {Array<Record<string, any>>} rows @param {any} policy */
async function rewriteDocs(results, rows, policy) {
  const m = results.machine;
  const a = results.allowPath;
  const md = [];
  md.push(
    `Run on ${m.date.slice(0, 10)} (${m.date}) — ${m.nproc} cores (\`nproc\`), ${m.cpu}, ${m.memoryGiB} GiB, Node ${m.node}.`,
  );
  md.push(
    `Load average (1/5/15 min) when it started: ${m.loadAverageAtStart.join(' / ')}; at the end: ${m.loadAverageAtEnd.join(' / ')}` +
      (m.loadAverageAtStart[0] > m.nproc * 0.5
        ? ' — the machine was shared with other work during this run, so the figures are pessimistic and noisy.'
        : '.'),
  );
  md.push('');
  md.push('| benchmark | figure | result | target | pass | ratio |');
  md.push('| --- | --- | --- | --- | --- | --- |');
  for (const x of rows) {
    md.push(
      `| ${x.bench} | ${x.figure} | ${x.value} | ${x.target} | ${x.pass === null ? '' : x.pass ? '**pass**' : '**FAIL**'} | ${x.ratio} |`,
    );
  }
  md.push('');
  md.push(
    `Allow path: ${a.connectionLevels.join(' and ')} connections, pipelining 1, ${a.rounds} rounds of ${a.durationS} s per server and level after a 2 s warm-up, ` +
      `bare Fastify and the gateway taking turns round by round and level by level (the diagnostics run their rounds alone, at ${a.diagnosticConnections}); ` +
      `the ratio compares each server's best level (the other rows of the gateway and bare Fastify are from that level); ` +
      `answers of ${a.answerBytes} bytes from both servers. Server-process CPU during the measured window: ` +
      `gateway ${fmt(a.gateway.serverCpu * 100, 0)}% of a core, bare Fastify ${fmt(a.bare.serverCpu * 100, 0)}%` +
      (a.inProcess
        ? `, gateway with its store on the event loop ${fmt(a.inProcess.serverCpu * 100, 0)}%`
        : '') +
      (a.memory ? `, in-memory gateway ${fmt(a.memory.serverCpu * 100, 0)}%.` : '.'),
  );
  md.push('');
  md.push(
    `Policy evaluation, per measured request (${policy.evaluations.toLocaleString('en-US')} evaluations each engine in total, ` +
      `timer overhead ≈ ${fmt(policy.timerOverheadUs, 2)} µs; Cedar ${policy.cedarVersion} via ${policy.cedarApi}):`,
  );
  md.push('');
  md.push(
    '| request (action, environment) | CEL conditions run (of 200) | Countersign p50 / p99 µs | Cedar p50 / p99 µs |',
  );
  md.push('| --- | --- | --- | --- |');
  for (const p of policy.perRequest) {
    md.push(
      `| \`${p.request}\` | ${p.celConditionsRun} | ${fmt(p.countersign.p50)} / ${fmt(p.countersign.p99)} | ${fmt(p.cedar.p50)} / ${fmt(p.cedar.p99)} |`,
    );
  }
  md.push('');
  const r = results.approveToResume;
  md.push(
    `Approve-to-resume: ${r.requests} sequential approvals; the wait response arrived before the approve response ${r.waitArrivedFirst} time(s) ` +
      `(those count as negative latencies).`,
  );
  md.push('');
  if (results.missedTargets.length === 0) md.push('All targets were met on this run.');
  else
    md.push(
      `**Targets missed on this run:** ${results.missedTargets.join('; ')}. See "What limits the figures" below.`,
    );

  let doc;
  try {
    doc = await readFile(DOCS, 'utf8');
  } catch {
    doc = `# Benchmarks\n\n## Results\n\n${START}\n${END}\n`;
  }
  const i = doc.indexOf(START);
  const j = doc.indexOf(END);
  if (i < 0 || j < i) throw new Error(`docs/benchmarks.md lacks the results markers:\n${START}\n${END}`);
  let next = `${doc.slice(0, i + START.length)}\n${md.join('\n')}\n${doc.slice(j)}`;
  // Keep the file as `npm run lint` (prettier --check) wants it: the tables get aligned.
  try {
    const prettier = await import('prettier');
    const options = (await prettier.resolveConfig(DOCS)) ?? {};
    next = await prettier.format(next, { ...options, filepath: DOCS });
  } catch (err) {
    console.warn(`(prettier not applied to ${DOCS}: ${err instanceof Error ? err.message : String(err)})`);
  }
  await writeFile(DOCS, next);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
