// Benchmarks 1 and 3, driven from the parent process against the servers in bench/servers.js (a child).
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { summarize } from './policy-eval.js';

export const ALLOW_BODY = {
  action: 'read.logs',
  resource: 'k8s://prod/deploy/api',
  environment: 'production',
  parameters: { lines: 100 },
};

/**
 * The child process holding the servers, with a small request/answer helper over IPC.
 * @param {{ cpuProfDir?: string }} opts
 */
export async function startServers(opts = {}) {
  const execArgv = opts.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`] : [];
  const child = fork(fileURLToPath(new URL('./servers.js', import.meta.url)), [], {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  /** @type {Map<string, Array<{ resolve: (msg: any) => void, reject: (err: Error) => void }>>} */
  const pending = new Map();
  /** @type {Error | null} */
  let gone = null;
  child.on('message', (/** @type {any} */ msg) => {
    const waiter = pending.get(msg?.type)?.shift();
    if (waiter) waiter.resolve(msg);
  });
  child.on('exit', (code) => {
    gone = new Error(`bench servers exited (code ${code})`);
    for (const queue of pending.values()) for (const w of queue.splice(0)) w.reject(gone);
  });
  /** @param {string} type @returns {Promise<any>} */
  const next = (type) =>
    new Promise((resolve, reject) => {
      if (gone) return reject(gone);
      const queue = pending.get(type) ?? [];
      queue.push({ resolve, reject });
      pending.set(type, queue);
    });
  /** @param {any} msg @returns {Promise<any>} */
  const ask = (msg) => {
    const answer = next(msg.type === 'stop' ? 'stopped' : msg.type);
    child.send(msg);
    return answer;
  };
  const ready = await next('ready');
  return {
    child,
    ask,
    /** @type {{ gatewayUrl: string, bareUrl: string, agentToken: string, reviewerToken: string, memoryGatewayUrl: string, memoryAgentToken: string }} */
    info: ready,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      await ask({ type: 'stop' }).catch(() => {});
      await exited;
    },
  };
}

/**
 * @param {string} url @param {string} method @param {string} token @param {unknown} [body]
 * @returns {Promise<{ status: number, body: any, text: string }>}
 */
async function call(url, method, token, body) {
  const res = await fetch(url, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let parsed = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed, text };
}

/** @param {Parameters<typeof autocannon>[0]} options @returns {Promise<any>} */
function cannon(options) {
  return new Promise((resolve, reject) => {
    autocannon(options, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

/** CPU time (ms) the child used between two samples. */
function cpuUsedMs(/** @type {any} */ a, /** @type {any} */ b) {
  return (b.usage.user - a.usage.user + (b.usage.system - a.usage.system)) / 1000;
}

/**
 * How the child's CPU between two samples split over its threads, per request: the main thread (the event
 * loop), the busiest other thread (the gateway's store thread, when it has one) and all the rest (libuv's
 * pool doing the fsyncs, V8's helpers). Null where the child could not read /proc.
 * @returns {{ main: number, busiestOther: number, rest: number } | null}
 */
function threadSplit(/** @type {any} */ a, /** @type {any} */ b, /** @type {number} */ requests) {
  if (!a.threads || !b.threads || requests === 0) return null;
  const main = (b.threads[b.pid] ?? 0) - (a.threads[a.pid] ?? 0);
  const others = Object.keys(b.threads)
    .filter((tid) => Number(tid) !== b.pid)
    .map((tid) => b.threads[tid] - (a.threads[tid] ?? 0))
    .sort((x, y) => y - x);
  const busiest = others[0] ?? 0;
  const rest = others.slice(1).reduce((sum, x) => sum + x, 0);
  return { main: main / requests, busiestOther: busiest / requests, rest: rest / requests };
}

/** CPU the child used between two samples, as a share of one core. */
function cpuShare(/** @type {any} */ a, /** @type {any} */ b) {
  return cpuUsedMs(a, b) / (b.at - a.at);
}

/**
 * Benchmark 1: the allow path, gateway against bare Fastify, under the same autocannon load.
 *
 * Each server is measured at every level of `connectionLevels` (by default 50, and 100 as in Fastify's own
 * benchmarks), and the ratio compares each server's best level with the other's: peak throughput against
 * peak throughput, as TechEmpower's benchmarks report each framework at its best concurrency. Bare Fastify
 * is CPU-bound and peaks at any of these levels; the gateway's group commit shares one fsync among the
 * writes that arrive while the previous one runs, so it needs more requests in flight to keep both
 * cores busy. The ratio at each level is reported too (`levels`).
 * @param {Awaited<ReturnType<typeof startServers>>} servers
 * @param {(line: string) => void} log
 * @param {{ connectionLevels?: number[], duration?: number, rounds?: number, warmup?: number, memory?: boolean, inProcess?: boolean }} [opts]
 */
export async function runAllowPath(servers, log, opts = {}) {
  const connectionLevels = opts.connectionLevels ?? [50, 100];
  const connections = connectionLevels[0] ?? 50;
  const duration = opts.duration ?? 5;
  const rounds = opts.rounds ?? 3;
  const warmup = opts.warmup ?? 2;
  const {
    gatewayUrl,
    bareUrl,
    agentToken,
    memoryGatewayUrl,
    memoryAgentToken,
    inProcessGatewayUrl,
    inProcessAgentToken,
  } = servers.info;

  // One request by hand first: the load is only meaningful if it is the allow path.
  const first = await call(`${gatewayUrl}/v1/actions`, 'POST', agentToken, ALLOW_BODY);
  if (first.status !== 201 || first.body?.status !== 'approved') {
    throw new Error(`gateway did not approve the read: ${first.status} ${first.text.slice(0, 500)}`);
  }
  const answerBytes = Buffer.byteLength(first.text);
  // The bare server answers the gateway's own answer (with a fresh id each time): the same bytes to serialize.
  await servers.ask({ type: 'bare-template', body: first.body });
  const bareFirst = await call(`${bareUrl}/v1/actions`, 'POST', agentToken, ALLOW_BODY);
  const memoryFirst = await call(`${memoryGatewayUrl}/v1/actions`, 'POST', memoryAgentToken, ALLOW_BODY);
  if (memoryFirst.status !== 201 || memoryFirst.body?.status !== 'approved') {
    throw new Error(
      `in-memory gateway did not approve the read: ${memoryFirst.status} ${memoryFirst.text.slice(0, 500)}`,
    );
  }
  log(
    `allow: gateway answered 201 approved (${answerBytes} bytes); bare answers ${Buffer.byteLength(bareFirst.text)} bytes`,
  );

  const body = JSON.stringify(ALLOW_BODY);
  const headersFor = (/** @type {string} */ token) => ({
    authorization: `Bearer ${token}`,
    'content-type': 'application/json',
  });
  /** @param {string} name @param {string} url @param {string} token */
  const warm = async (name, url, token) => {
    log(`allow: ${name}: warm-up ${warmup} s, ${connections} connections`);
    await cannon({
      url: `${url}/v1/actions`,
      method: 'POST',
      headers: headersFor(token),
      body,
      connections,
      duration: warmup,
      pipelining: 1,
    });
  };
  /**
   * One measured round against one server.
   * @param {string} name @param {string} url @param {string} token @param {number} [conns]
   */
  const round = async (name, url, token, conns = connections) => {
    const before = await servers.ask({ type: 'cpu' });
    const r = await cannon({
      url: `${url}/v1/actions`,
      method: 'POST',
      headers: headersFor(token),
      body,
      connections: conns,
      duration,
      pipelining: 1,
    });
    const after = await servers.ask({ type: 'cpu' });
    return { r, before, after };
  };
  /**
   * The rounds of one server, summed: throughput is all requests over all measured time, CPU all CPU over
   * all requests; latency p50 is the middle round's, p99 the worst round's.
   * @param {string} name @param {{ r: any, before: any, after: any, connections?: number }[]} runs
   */
  const combine = (name, runs) => {
    const total = runs.reduce((n, x) => n + x.r.requests.total, 0);
    const seconds = runs.reduce((n, x) => n + x.r.duration, 0);
    const window = runs.reduce((n, x) => n + (x.after.at - x.before.at) / 1000, 0);
    const cpuMs = runs.reduce((n, x) => n + cpuUsedMs(x.before, x.after), 0);
    const splits = runs.map((x) => threadSplit(x.before, x.after, x.r.requests.total));
    const split = (/** @type {'main' | 'busiestOther' | 'rest'} */ k) =>
      splits.every((t) => t !== null)
        ? runs.reduce((n, x, i) => n + (splits[i]?.[k] ?? 0) * x.r.requests.total, 0) / total
        : null;
    const main = split('main');
    const p50s = runs.map((x) => x.r.latency.p50).sort((a, b) => a - b);
    const result = {
      connections: runs[0]?.connections ?? connections,
      reqPerSec: total / seconds,
      perRoundReqPerSec: runs.map((x) => x.r.requests.average),
      total,
      latencyP50Ms: p50s[Math.floor(p50s.length / 2)],
      latencyP99Ms: Math.max(...runs.map((x) => x.r.latency.p99)),
      non2xx: runs.reduce((n, x) => n + x.r.non2xx, 0),
      errors: runs.reduce((n, x) => n + x.r.errors, 0),
      timeouts: runs.reduce((n, x) => n + x.r.timeouts, 0),
      serverCpu: cpuMs / (window * 1000),
      // Less sensitive than req/s to other work on a shared machine (it counts only this server's CPU).
      serverCpuMsPerRequest: total > 0 ? cpuMs / total : null,
      threadsMsPerRequest:
        main === null ? null : { main, busiestOther: split('busiestOther') ?? 0, rest: split('rest') ?? 0 },
    };
    const t = result.threadsMsPerRequest;
    log(
      `allow: ${name}: ${Math.round(result.reqPerSec)} req/s (rounds: ${result.perRoundReqPerSec.map(Math.round).join(', ')}), ` +
        `p50 ${result.latencyP50Ms} ms, p99 ${result.latencyP99Ms} ms, ` +
        `non-2xx ${result.non2xx}, errors ${result.errors}, server CPU ${(result.serverCpu * 100).toFixed(0)}% of a core, ` +
        `${result.serverCpuMsPerRequest === null ? '—' : result.serverCpuMsPerRequest.toFixed(3)} ms per request` +
        (t
          ? ` (main thread ${t.main.toFixed(3)}, busiest other ${t.busiestOther.toFixed(3)}, rest ${t.rest.toFixed(3)})`
          : ''),
    );
    return result;
  };
  /** Warm-up, then `rounds` measured rounds of one server (the diagnostics run alone). */
  const load = async (/** @type {string} */ name, /** @type {string} */ url, /** @type {string} */ token) => {
    await warm(name, url, token);
    /** @type {{ r: any, before: any, after: any }[]} */
    const runs = [];
    for (let i = 0; i < rounds; i++) {
      log(`allow: ${name}: round ${i + 1}/${rounds}, ${connections} connections for ${duration} s`);
      runs.push(await round(name, url, token));
    }
    return combine(name, runs);
  };

  // Gateway and bare Fastify take turns, round by round and level by level: a shared host's speed drifts
  // over minutes, and the ratio should compare the two under the same conditions, not the first half
  // against the second.
  await warm('bare fastify', bareUrl, agentToken);
  await warm('gateway', gatewayUrl, agentToken);
  /** @type {Map<number, { bare: { r: any, before: any, after: any, connections: number }[], gateway: { r: any, before: any, after: any, connections: number }[] }>} */
  const runsAt = new Map(connectionLevels.map((c) => [c, { bare: [], gateway: [] }]));
  for (let i = 0; i < rounds; i++) {
    for (const c of connectionLevels) {
      log(
        `allow: round ${i + 1}/${rounds}: bare fastify, then gateway, ${c} connections for ${duration} s each`,
      );
      const at = /** @type {NonNullable<ReturnType<typeof runsAt.get>>} */ (runsAt.get(c));
      at.bare.push({ ...(await round('bare fastify', bareUrl, agentToken, c)), connections: c });
      at.gateway.push({ ...(await round('gateway', gatewayUrl, agentToken, c)), connections: c });
    }
  }
  const levels = connectionLevels.map((c) => {
    const at = /** @type {NonNullable<ReturnType<typeof runsAt.get>>} */ (runsAt.get(c));
    const bareAt = combine(`bare fastify, ${c} connections`, at.bare);
    const gatewayAt = combine(`gateway, ${c} connections`, at.gateway);
    return {
      connections: c,
      bare: bareAt,
      gateway: gatewayAt,
      ratio: gatewayAt.reqPerSec / bareAt.reqPerSec,
    };
  });
  /** @param {'bare' | 'gateway'} k */
  const best = (k) => levels.reduce((x, y) => (y[k].reqPerSec > x[k].reqPerSec ? y : x))[k];
  const bare = best('bare');
  const gateway = best('gateway');
  log(
    `allow: peak against peak: gateway ${Math.round(gateway.reqPerSec)} req/s at ${gateway.connections} connections, ` +
      `bare fastify ${Math.round(bare.reqPerSec)} at ${bare.connections}: ${(gateway.reqPerSec / bare.reqPerSec).toFixed(3)}; ` +
      `at each level ${levels.map((l) => `${l.connections}: ${l.ratio.toFixed(3)}`).join(', ')}`,
  );
  const memory =
    opts.memory === false
      ? null
      : await load('gateway, in-memory SQLite (diagnostic)', memoryGatewayUrl, memoryAgentToken);
  const inProcess =
    opts.inProcess === false
      ? null
      : await load(
          'gateway, SQLite store on the event loop (diagnostic)',
          inProcessGatewayUrl,
          inProcessAgentToken,
        );
  return {
    connectionLevels,
    diagnosticConnections: connections,
    durationS: duration,
    rounds,
    answerBytes,
    gateway,
    bare,
    levels,
    memory,
    inProcess,
    ratio: gateway.reqPerSec / bare.reqPerSec,
  };
}

/**
 * Benchmark 3: approve-to-resume. Sequentially: submit deploy.run as the agent (pending), start a long-poll
 * wait, make sure the gateway has parked it, approve as the reviewer, then time from the approve call's
 * response arriving to the wait call's response arriving.
 * @param {Awaited<ReturnType<typeof startServers>>} servers
 * @param {(line: string) => void} log
 * @param {{ requests?: number, warmup?: number }} [opts]
 */
export async function runApproveToResume(servers, log, opts = {}) {
  const requests = opts.requests ?? 250;
  const warmup = opts.warmup ?? 20;
  const { gatewayUrl, agentToken, reviewerToken } = servers.info;
  const now = () => Number(process.hrtime.bigint()) / 1e6;
  /** @type {number[]} */ const afterApproveResponse = [];
  /** @type {number[]} */ const afterApproveSent = [];
  let waitFirst = 0;
  log(`resume: ${warmup} warm-up + ${requests} measured approvals`);
  for (let i = 0; i < warmup + requests; i++) {
    const submitted = await call(`${gatewayUrl}/v1/actions`, 'POST', agentToken, {
      action: 'deploy.run',
      resource: 'k8s://prod/deploy/api',
      environment: 'production',
      parameters: { image: `api:1.0.${i}` },
    });
    if (submitted.status !== 201 || submitted.body?.status !== 'pending') {
      throw new Error(`deploy.run was not pending: ${submitted.status} ${submitted.text.slice(0, 300)}`);
    }
    const id = submitted.body.id;
    /** @type {Promise<{ at: number, body: any, status: number }>} */
    const waited = fetch(`${gatewayUrl}/v1/requests/${id}/wait?timeout=30`, {
      headers: { authorization: `Bearer ${agentToken}` },
    }).then(async (res) => {
      const text = await res.text();
      return { at: now(), status: res.status, body: JSON.parse(text) };
    });
    // Approve only once the wait is parked, so that what is timed is the wake-up, not a read of a settled request.
    for (let tries = 0; ; tries++) {
      const { size } = await servers.ask({ type: 'waiters' });
      if (size >= 1) break;
      if (tries > 2000) throw new Error('the wait never parked');
      await new Promise((r) => setTimeout(r, 1));
    }
    const sent = now();
    const approved = await call(`${gatewayUrl}/v1/requests/${id}/approve`, 'POST', reviewerToken, {
      comment: 'bench',
    });
    const approvedAt = now();
    if (approved.status !== 200 || approved.body?.status !== 'approved') {
      throw new Error(`approve failed: ${approved.status} ${approved.text.slice(0, 300)}`);
    }
    const w = await waited;
    if (w.status !== 200 || w.body?.status !== 'approved') {
      throw new Error(`wait did not return approved: ${w.status} ${JSON.stringify(w.body).slice(0, 300)}`);
    }
    if (i >= warmup) {
      afterApproveResponse.push(w.at - approvedAt);
      afterApproveSent.push(w.at - sent);
      if (w.at < approvedAt) waitFirst++;
    }
    if ((i + 1) % 100 === 0) log(`resume: ${i + 1}/${warmup + requests}`);
  }
  return {
    requests,
    fromApproveResponseMs: summarize(afterApproveResponse),
    fromApproveSentMs: summarize(afterApproveSent),
    waitArrivedFirst: waitFirst,
  };
}
