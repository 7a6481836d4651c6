// DLP benchmark: scan throughput on a generated ~10 MB JSON payload, side by side with secretlint
// (@secretlint/core + the recommend preset) on the same payload, and the p99 added latency of scanning
// a typical 2 KB submission. Run `npm run build` first, then `node bench/dlp.js [--quick]`.
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { createScanner } from '../dist/dlp/index.js';

// Seeded so every run scans the same bytes.
let seed = 42;
const rand = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
};
const pick = (a) => a[Math.floor(rand() * a.length)];
const str = (alphabet, n) => {
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(rand() * alphabet.length)];
  return s;
};
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const HEX = '0123456789abcdef';
const WORDS =
  'the request completed with status user service deploy cache miss retry upstream timeout ok queue worker job started finished'.split(
    ' ',
  );

function logLine(i) {
  return {
    ts: new Date(1.7e12 + i * 997).toISOString(),
    level: pick(['info', 'info', 'info', 'warn', 'error', 'debug']),
    msg: Array.from({ length: 6 + Math.floor(rand() * 10) }, () => pick(WORDS)).join(' '),
    request_id: `${str(HEX, 8)}-${str(HEX, 4)}-4${str(HEX, 3)}-a${str(HEX, 3)}-${str(HEX, 12)}`,
    remote_addr: `10.${Math.floor(rand() * 255)}.${Math.floor(rand() * 255)}.${Math.floor(rand() * 255)}`,
    path: `/v1/items/${Math.floor(rand() * 1e6)}?page=${Math.floor(rand() * 20)}`,
    latency_ms: Math.round(rand() * 5000) / 10,
    commit: str(HEX, 40),
  };
}
function configBlock() {
  return {
    service: pick(['billing', 'search', 'auth', 'web']),
    replicas: 3,
    image: `registry.acme-corp.io/app:1.${Math.floor(rand() * 40)}.${Math.floor(rand() * 10)}`,
    env: { NODE_ENV: 'production', LOG_LEVEL: 'info', REGION: 'eu-west-1', FEATURE_FLAGS: 'a,b,c' },
    description: 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt.',
  };
}
// Synthetic secrets in the right shape (never real ones).
function secretBlock() {
  return {
    aws_access_key_id: `AKIA${str('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16)}`,
    github: `ghp_${str(ALNUM, 36)}`,
    dsn: `postgres://app:${str(ALNUM, 16)}@db.internal:5432/app`,
    note: `contact ${pick(['alice', 'bob'])}.${pick(['smith', 'tanaka'])}@acme-corp.io or +44 20 7946 ${str('0123456789', 4)}`,
    api_key: str(ALNUM, 32),
  };
}

/** A JSON payload of about `bytes` bytes: mostly logs and configs, one secret block in fifty entries. */
export function makePayload(bytes) {
  const items = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const item = i % 50 === 0 ? secretBlock() : i % 10 === 0 ? configBlock() : logLine(i);
    items.push(item);
    size += JSON.stringify(item).length + 1;
  }
  return { source: 'bench', items };
}

/** A typical 2 KB submission: parameters, reason and context of one action request. */
export function makeSubmission() {
  return {
    parameters: {
      service: 'api',
      namespace: 'prod',
      replicas: 4,
      image: 'registry.acme-corp.io/api:2.14.1',
      env: { LOG_LEVEL: 'info', REGION: 'eu-west-1', DATABASE_URL: 'postgres://api@db.internal:5432/api' },
      args: ['--port', '8080', '--max-connections', '200', '--timeout', '30s'],
      labels: { team: 'platform', tier: 'backend', cost_center: 'cc-1234' },
      notes: Array.from({ length: 12 }, () => 'Restart after the config change rolled out to canary.').join(
        ' ',
      ),
    },
    reason:
      'Rolling restart to pick up the new connection pool settings; canary looked healthy for 30 minutes.',
    context: {
      pipeline: { run: 'https://ci.acme-corp.io/runs/48211', repo: 'acme/api', commit: str(HEX, 40) },
      model: 'claude-sonnet',
      tool_call_id: `toolu_${str(ALNUM, 24)}`,
      data: { source: 'k8s://prod', destination: 'k8s://prod', classes: [], records: 0, bytes: 0 },
      history: Array.from({ length: 8 }, (_, i) => ({
        step: i,
        action: 'kubectl get pods',
        ok: true,
        took_ms: 120 + i,
      })),
    },
  };
}

async function secretlintScan(text) {
  const { lintSource } = await import('@secretlint/core');
  const { creator } = await import('@secretlint/secretlint-rule-preset-recommend');
  const t0 = performance.now();
  const result = await lintSource({
    source: { filePath: 'payload.json', content: text, ext: '.json', contentType: 'text' },
    options: { config: { rules: [{ id: '@secretlint/secretlint-rule-preset-recommend', rule: creator }] } },
  });
  return { ms: performance.now() - t0, findings: result.messages.length };
}

export async function runDlpBench({ quick = false } = {}) {
  const scanner = createScanner();
  const payload = makePayload(quick ? 2_000_000 : 10_000_000);
  const text = JSON.stringify(payload);
  const mb = Buffer.byteLength(text) / 1e6;

  // Warm up, then take the best of a few runs (scanJson walks the parsed value, as the gateway does).
  scanner.scanJson(payload);
  let best = Infinity;
  let findings = 0;
  for (let i = 0; i < (quick ? 2 : 5); i++) {
    const t0 = performance.now();
    findings = scanner.scanJson(payload).length;
    best = Math.min(best, performance.now() - t0);
  }
  const t1 = performance.now();
  scanner.scanText(text);
  const textMs = performance.now() - t1;

  let secretlint;
  try {
    await secretlintScan('warm up AKIA0000');
    secretlint = await secretlintScan(text);
  } catch (err) {
    secretlint = { error: err instanceof Error ? err.message : String(err) };
  }

  const submission = makeSubmission();
  const runs = quick ? 2_000 : 10_000;
  const times = new Float64Array(runs);
  for (let i = 0; i < 500; i++) scanner.scanJson(submission);
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    scanner.scanJson(submission);
    times[i] = performance.now() - t0;
  }
  times.sort();
  const q = (p) => times[Math.min(runs - 1, Math.floor(runs * p))];

  return {
    payloadMB: Number(mb.toFixed(2)),
    submissionBytes: Buffer.byteLength(JSON.stringify(submission)),
    countersign: {
      jsonMBps: Number((mb / (best / 1000)).toFixed(1)),
      jsonMs: Number(best.toFixed(1)),
      textMBps: Number((mb / (textMs / 1000)).toFixed(1)),
      findings,
    },
    secretlint:
      'error' in secretlint
        ? secretlint
        : {
            MBps: Number((mb / (secretlint.ms / 1000)).toFixed(1)),
            ms: Number(secretlint.ms.toFixed(1)),
            findings: secretlint.findings,
          },
    latency2KB: {
      runs,
      p50ms: Number(q(0.5).toFixed(4)),
      p99ms: Number(q(0.99).toFixed(4)),
      maxms: Number(times[runs - 1].toFixed(4)),
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await runDlpBench({ quick: process.argv.includes('--quick') });
  console.log(`payload                 ${r.payloadMB} MB JSON`);
  console.log(
    `countersign scanJson    ${r.countersign.jsonMBps} MB/s (${r.countersign.jsonMs} ms, ${r.countersign.findings} findings)`,
  );
  console.log(`countersign scanText    ${r.countersign.textMBps} MB/s (same payload as one string)`);
  if ('error' in r.secretlint) console.log(`secretlint              failed: ${r.secretlint.error}`);
  else
    console.log(
      `secretlint (recommend)  ${r.secretlint.MBps} MB/s (${r.secretlint.ms} ms, ${r.secretlint.findings} findings)`,
    );
  console.log(
    `2 KB submission         p50 ${r.latency2KB.p50ms} ms, p99 ${r.latency2KB.p99ms} ms over ${r.latency2KB.runs} runs (${r.submissionBytes} bytes)`,
  );
}
