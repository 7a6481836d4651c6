/**
 * The SDK's `wait` across a gateway restart (invariant 9): the request and its outcome are in the store,
 * so a client waiting on it tries again until the gateway is back, and gets the outcome.
 */
import { afterEach, expect, it } from 'vitest';
import { requestCommand } from '../../src/cli/commands/requests.js';
import { CountersignApiError, CountersignClient } from '../../src/client/index.js';
import { captureIo } from '../helpers/capture-io.js';
import { ONE_APPROVAL_POLICY as POLICY, startHarness, type Harness } from '../helpers/gateway-harness.js';
import { freshSqliteDatabase, type TestDatabase } from '../helpers/postgres.js';

const dbs: TestDatabase[] = [];
const running: Harness[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((h) => h.stop().catch(() => {})));
  await Promise.all(dbs.splice(0).map((d) => d.cleanup()));
});

const start = async (db: TestDatabase, port?: number): Promise<Harness> => {
  // The same port again after a restart: rarely, something else holds it for a moment.
  for (let attempt = 1; ; attempt++) {
    try {
      const h = await startHarness(db, POLICY, { listen: true, ...(port === undefined ? {} : { port }) });
      running.push(h);
      return h;
    } catch (err) {
      if (attempt >= 20 || !String(err).includes('EADDRINUSE')) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
};

it('waits through a restart of the gateway and returns the outcome decided after it', async () => {
  const db = await freshSqliteDatabase();
  dbs.push(db);
  const first = await start(db);
  const agent = await first.key({ kind: 'agent', name: 'bot', owner: 'dana@example.com' });
  const alice = await first.key({ email: 'alice@example.com', groups: ['platform'] });
  const client = new CountersignClient({ url: first.running.url, token: agent });
  const submitted = await client.submit({ action: 'deploy.run', resource: 'x' });
  expect(submitted.status).toBe('pending');

  const retries: number[] = [];
  const waiting = client.wait(submitted.id, 30_000, { onRetry: (_err, pause) => retries.push(pause) });
  while (first.running.gateway.waiters.size < 1) await new Promise((r) => setTimeout(r, 10));

  // Down for a while: the client keeps trying (its tries are refused meanwhile).
  await first.stop();
  running.splice(running.indexOf(first), 1);
  await new Promise((r) => setTimeout(r, 800));
  const second = await start(db, Number(new URL(first.running.url).port));
  expect((await second.approve(alice, submitted.id)).status).toBe(200);

  const outcome = await waiting;
  expect(outcome.id).toBe(submitted.id);
  expect(outcome.status).toBe('approved');
  expect(retries.length).toBeGreaterThan(0);
  expect(retries[0]).toBe(250);
});

it('fails at once when it has never reached the gateway (a wrong URL), and at the deadline otherwise', async () => {
  const db = await freshSqliteDatabase();
  dbs.push(db);
  const h = await start(db);
  const agent = await h.key({ kind: 'agent', name: 'bot', owner: 'dana@example.com' });
  const url = h.running.url;
  const id = (await h.submit(agent, { action: 'deploy.run', resource: 'x' })).body.id as string;
  await h.stop();
  running.splice(0);

  const never = new CountersignClient({ url, token: agent });
  const started = Date.now();
  await expect(never.wait(id, 10_000)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  expect(Date.now() - started).toBeLessThan(2_000);

  // A client that did reach it (here: a failed call answered by the gateway) waits on until its deadline.
  const h2 = await start(db, Number(new URL(url).port));
  const reached = new CountersignClient({ url, token: agent });
  await expect(reached.get('req_missing')).rejects.toBeInstanceOf(CountersignApiError);
  await h2.stop();
  running.splice(0);
  const at = Date.now();
  await expect(reached.wait(id, 1_500)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  expect(Date.now() - at).toBeGreaterThanOrEqual(700);
});

it('`countersign request --wait` says once that the gateway is away, waits on, and exits 0 when approved', async () => {
  const db = await freshSqliteDatabase();
  dbs.push(db);
  const first = await start(db);
  const agent = await first.key({ kind: 'agent', name: 'bot', owner: 'dana@example.com' });
  const alice = await first.key({ email: 'alice@example.com', groups: ['platform'] });
  const io = captureIo();
  const run = requestCommand(
    { url: first.running.url, token: agent, action: 'deploy.run', wait: true, timeout: '30' },
    io,
  );
  while (first.running.gateway.waiters.size < 1) await new Promise((r) => setTimeout(r, 10));
  const id = /(req_\w+) is pending approval/.exec(io.stderr)?.[1];
  expect(id).toBeTruthy();

  await first.stop();
  running.splice(running.indexOf(first), 1);
  await new Promise((r) => setTimeout(r, 1_500));
  const second = await start(db, Number(new URL(first.running.url).port));
  expect((await second.approve(alice, id as string)).status).toBe(200);

  expect(await run).toBe(0);
  expect(io.stdout).toMatch(/APPROVED/);
  // Several tries failed while it was down; the note was printed once.
  expect(io.stderr.match(/still waiting, trying again/g)).toHaveLength(1);
  expect(io.stderr).toMatch(/UNAVAILABLE|cannot reach the gateway/);
});
