// The servers under load, run in a child process of bench/run.js (forked with an IPC channel) so that the
// load generator and the server each get their own event loop, and on this 2-core machine their own core.
//
// It starts:
//   - the real gateway (startGateway from dist/): SQLite file store in a temp dir (WAL + synchronous FULL,
//     the store's defaults), a policy that allows `read.*` and requires one approval from group:platform for
//     `deploy.run`, rate limit off, log level silent;
//   - a bare Fastify server with one POST route that answers a JSON object of the gateway's answer size.
// It creates an agent key and a human reviewer key on the gateway's store, then reports over IPC:
//   { type: 'ready', gatewayUrl, bareUrl, agentToken, reviewerToken, memoryGatewayUrl, memoryAgentToken }
// (the memory* pair is the same gateway on an in-memory SQLite database, the inProcess* pair the same
// gateway with its SQLite store on the event loop instead of a store thread: diagnostics, see below).
// Requests over IPC: { type: 'cpu' } -> { type: 'cpu', usage, at, threads } (threads: CPU ms per thread
// id, from /proc on Linux, else null), { type: 'waiters' } -> { type: 'waiters', size },
// { type: 'bare-template', body } sets the bare server's answer, { type: 'stop' } closes everything and exits.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import Fastify from 'fastify';
import { systemClock } from '../dist/core/clock.js';
import { createApiKey } from '../dist/identity/api-keys.js';
import { createLogger } from '../dist/logger.js';
import { startGateway } from '../dist/server/serve.js';
import { openStore } from '../dist/store/open-store.js';
import { BENCH_ACTOR, startBenchGateway, threadTimes } from './fixtures.js';

/** @param {unknown} msg */
function send(msg) {
  if (process.send) process.send(msg);
}

async function main() {
  // The same config path as `countersign serve`, set through its environment variables.
  const { dir, config, running, agent } = await startBenchGateway('countersign-bench-');
  const actor = BENCH_ACTOR;
  const reviewer = await createApiKey(
    running.store,
    systemClock,
    { name: 'bob', kind: 'human', email: 'bob@example.com', groups: ['platform'] },
    actor,
  );

  // A diagnostic twin: the same gateway on an in-memory SQLite database (no file, no fsync). Not a target;
  // it shows how much of the allow path's cost is durability and how much is CPU.
  const memory = await startGateway({ ...config, storage: 'sqlite::memory:' }, createLogger('silent'), {
    store: await openStore('sqlite::memory:'),
  });
  const memoryAgent = await createApiKey(
    memory.store,
    systemClock,
    { name: 'bench-bot', kind: 'agent', owner: 'alice@example.com' },
    actor,
  );

  // A second diagnostic twin: the same gateway on a SQLite file whose connection runs on the event loop
  // (as before the store thread), so that one run measures what the store thread changes.
  const inProcessStorage = `sqlite:${join(dir, 'in-process.db')}`;
  const inProcess = await startGateway({ ...config, storage: inProcessStorage }, createLogger('silent'), {
    store: await openStore(inProcessStorage),
  });
  const inProcessAgent = await createApiKey(
    inProcess.store,
    systemClock,
    { name: 'bench-bot', kind: 'agent', owner: 'alice@example.com' },
    actor,
  );

  // The baseline: what Fastify costs on this machine with a JSON body in and a JSON object out.
  let template = { id: 'req_0', status: 'approved', padding: '' };
  let counter = 0;
  const bare = Fastify({ logger: false });
  bare.post('/v1/actions', async (_req, reply) => {
    void reply.code(201);
    return { ...template, id: `req_${(++counter).toString(36).padStart(26, '0')}` };
  });
  await bare.listen({ host: '127.0.0.1', port: 0 });
  const addr = bare.server.address();
  const bareUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;

  process.on('message', async (/** @type {any} */ msg) => {
    switch (msg?.type) {
      case 'cpu':
        send({
          type: 'cpu',
          usage: process.cpuUsage(),
          at: Number(process.hrtime.bigint()) / 1e6,
          pid: process.pid,
          threads: threadTimes(),
        });
        break;
      case 'waiters':
        send({ type: 'waiters', size: running.gateway.waiters.size });
        break;
      case 'bare-template':
        template = msg.body;
        send({ type: 'bare-template' });
        break;
      case 'stop':
        await bare.close();
        await running.close();
        await memory.close();
        await inProcess.close();
        await rm(dir, { recursive: true, force: true });
        send({ type: 'stopped' });
        process.exit(0);
    }
  });
  // If the parent dies, do not linger.
  process.on('disconnect', () => process.exit(0));

  send({
    type: 'ready',
    gatewayUrl: running.url,
    bareUrl,
    agentToken: agent.token,
    reviewerToken: reviewer.token,
    memoryGatewayUrl: memory.url,
    memoryAgentToken: memoryAgent.token,
    inProcessGatewayUrl: inProcess.url,
    inProcessAgentToken: inProcessAgent.token,
  });
}

main().catch((err) => {
  console.error('bench servers failed:', err);
  process.exit(1);
});
