// `node bench/ladder.js [--duration S] [--rounds N] [--only bare,app,…]` (after `npm run build`): where the allow path's CPU
// goes. A diagnostic, not a benchmark with targets: it runs the load of bench/run.js's allow path at its
// first level (autocannon, 50 connections, POST /v1/actions) against servers that add the gateway's layers one
// at a time, each in a child process of its own, and prints CPU per request by thread:
//   bare     bare Fastify answering the gateway's answer (bench/run.js's baseline)
//   The app's pieces, added to bare Fastify one at a time (each level has the ones above it):
//   headers     helmet's security headers and a request id, set in onRequest as the app does
//   listeners   an onResponse hook that does nothing: what any logger or hook switches on in Fastify
//               (response listeners and timing on every request)
//   metrics     the app's Prometheus hook instead (httpMetricsHook)
//   body        the app's JSON body parser (prototype-poisoning checks, surrogates, depth, numbers)
//   validation  the submission's schema check and the view built for the answer
//   app      the gateway's HTTP app (hooks, security headers, request ids, metrics, validation, the view);
//            authentication and submit stubbed (a fixed principal, a copy of one real request)
//   +auth    the same with real API-key authentication
//   +submit  the real Gateway.submit (DLP scan, policy, digest, payload sealing, audit event), with the
//            store's insert answered at once
//   gateway  the whole gateway: store thread, group commit, durable WAL
// The differences between rows are what each layer costs on this machine. Noisy hosts: use --rounds.
// LADDER_PROF=DIR writes a V8 CPU profile of each server child into DIR (--cpu-prof).
import { fork } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import { ALLOW_BODY } from './http-bench.js';
import { startBenchGateway, threadTimes } from './fixtures.js';

const LEVELS = [
  'bare',
  'headers',
  'listeners',
  'metrics',
  'body',
  'validation',
  'app',
  '+auth',
  '+submit',
  'gateway',
];
/** The levels made of bare Fastify plus some of the app's pieces, in the order they add them. */
const PIECES = ['bare', 'headers', 'listeners', 'metrics', 'body', 'validation'];

/** Child: starts the server of one level and answers { cpu } requests with per-thread CPU. */
async function serve(/** @type {string} */ level) {
  const { createLogger } = await import('../dist/logger.js');
  const { buildApp } = await import('../dist/server/app.js');
  const { authenticateApiKey } = await import('../dist/identity/api-keys.js');
  const { systemClock } = await import('../dist/core/clock.js');
  const { dir, config, running, agent } = await startBenchGateway('countersign-ladder-');
  const principal = await authenticateApiKey(running.store, systemClock, agent.token);
  const input = { ...ALLOW_BODY, reason: null, context: {}, onBehalfOf: null };
  const sample = (await running.gateway.submit(principal, input, null)).request;
  let n = 0;
  const fresh = () => ({ ...sample, id: `req_${(++n).toString(36).padStart(26, '0')}` });
  let url = running.url;
  const pieces = PIECES.indexOf(level);
  if (pieces >= 0) {
    const has = (/** @type {string} */ piece) => pieces >= PIECES.indexOf(piece);
    const { randomUUID } = await import('node:crypto');
    const { helmetHeaders, httpMetricsHook } = await import('../dist/server/app.js');
    const { Metrics } = await import('../dist/server/metrics.js');
    const { registerJsonBodyParser } = await import('../dist/server/json-body.js');
    const { SubmitBody } = await import('../dist/server/schemas.js');
    const { parseInput } = await import('../dist/server/validate.js');
    const { toView } = await import('../dist/gateway/view.js');
    const bare = Fastify({ logger: false, ...(has('headers') ? { genReqId: () => randomUUID() } : {}) });
    if (has('headers')) {
      const security = await helmetHeaders();
      bare.addHook('onRequest', (req, reply, done) => {
        for (const [name, value] of security) reply.raw.setHeader(name, value);
        reply.raw.setHeader('x-request-id', req.id);
        done();
      });
    }
    if (level === 'listeners') bare.addHook('onResponse', (_req, _reply, done) => done());
    if (has('metrics')) bare.addHook('onResponse', httpMetricsHook(new Metrics()));
    if (has('body')) registerJsonBodyParser(bare);
    bare.post('/v1/actions', async (req, reply) => {
      void reply.code(201);
      if (!has('validation')) return fresh();
      parseInput(SubmitBody, req.body, 'body');
      return toView(fresh());
    });
    await bare.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${/** @type {any} */ (bare.server.address()).port}`;
  } else if (level !== 'gateway') {
    const store = running.store;
    if (level === '+submit') {
      /** @type {any} */ (store).insertRequest = async (/** @type {any} */ req) => ({
        request: req,
        created: true,
      });
    }
    const gateway =
      level === '+submit'
        ? running.gateway
        : Object.assign(Object.create(Object.getPrototypeOf(running.gateway)), running.gateway, {
            submit: async () => ({ request: fresh(), created: true }),
          });
    const app = await buildApp({
      gateway,
      store,
      logger: createLogger('silent'),
      authenticate:
        level === 'app' ? async () => principal : (token) => authenticateApiKey(store, systemClock, token),
      requestsPerMinute: 0,
      bodyBytes: config.limits.bodyBytes,
      version: 'ladder',
      audit: {
        checkpointer: running.checkpointer,
        payloadKeys: /** @type {any} */ (null),
        clock: systemClock,
      },
      trustedDestinations: [],
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${/** @type {any} */ (app.server.address()).port}`;
  }
  process.on('message', async (/** @type {any} */ msg) => {
    if (msg === 'cpu') process.send?.({ pid: process.pid, threads: threadTimes() });
    if (msg === 'stop') {
      await running.close();
      await rm(dir, { recursive: true, force: true });
      process.exit(0);
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ url, token: agent.token });
}

/** @param {string} url @param {string} token @param {number} duration @returns {Promise<any>} */
function load(url, token, duration) {
  return new Promise((resolve, reject) =>
    autocannon(
      {
        url: `${url}/v1/actions`,
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(ALLOW_BODY),
        connections: 50,
        duration,
        pipelining: 1,
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    ),
  );
}

async function drive() {
  const { values } = parseArgs({
    options: { duration: { type: 'string' }, rounds: { type: 'string' }, only: { type: 'string' } },
  });
  const duration = Number(values.duration ?? 5);
  const rounds = Number(values.rounds ?? 1);
  const levels = values.only === undefined ? LEVELS : values.only.split(',');
  const unknown = levels.filter((l) => !LEVELS.includes(l));
  if (unknown.length > 0)
    throw new Error(`unknown level ${unknown.join(', ')}; the levels are ${LEVELS.join(', ')}`);
  console.log('level        req/s   p99 ms   CPU ms per request: main thread / busiest other / rest');
  for (let round = 0; round < rounds; round++) {
    for (const level of levels) {
      const prof = process.env.LADDER_PROF;
      const child = fork(fileURLToPath(import.meta.url), [], {
        execArgv: prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : [],
        env: { ...process.env, LADDER_LEVEL: level },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      /** @returns {Promise<any>} */
      const next = () => new Promise((resolve) => child.once('message', resolve));
      const { url, token } = await next();
      await load(url, token, 2);
      const cpu = () => {
        const answer = next();
        child.send('cpu');
        return answer;
      };
      const before = await cpu();
      const r = await load(url, token, duration);
      const after = await cpu();
      const per = (/** @type {string} */ tid) =>
        (after.threads[tid] - (before.threads[tid] ?? 0)) / r.requests.total;
      const others = Object.keys(after.threads)
        .filter((tid) => Number(tid) !== after.pid)
        .map(per)
        .sort((a, b) => b - a);
      const busiest = others[0] ?? 0;
      const rest = others.slice(1).reduce((a, b) => a + b, 0);
      console.log(
        `${level.padEnd(11)} ${String(Math.round(r.requests.average)).padStart(6)} ${String(r.latency.p99).padStart(8)}   ` +
          `${per(String(after.pid)).toFixed(3)} / ${busiest.toFixed(3)} / ${rest.toFixed(3)}` +
          (r.non2xx > 0 ? `   (${r.non2xx} non-2xx!)` : ''),
      );
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send('stop');
      await exited;
    }
  }
}

const level = process.env.LADDER_LEVEL;
(level ? serve(level) : drive()).catch((err) => {
  console.error(`ladder failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
