/**
 * Shutdown with long-polls open: each parked `wait` is answered with the request as it stands (still
 * pending, as at a timeout) before the connections close, and nothing fails on the way out.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { ONE_APPROVAL_POLICY as POLICY, startHarness, type Harness } from '../helpers/gateway-harness.js';
import { freshSqliteDatabase, type TestDatabase } from '../helpers/postgres.js';

let db: TestDatabase;
let h: Harness;
const lines: string[] = [];

beforeEach(async () => {
  db = await freshSqliteDatabase();
  lines.length = 0;
  h = await startHarness(db, POLICY, { listen: true, logSink: (line) => lines.push(line) });
});
afterEach(async () => {
  await db.cleanup();
});

it('answers every parked wait with the pending request before it closes, and logs no error', async () => {
  const agent = await h.key({ kind: 'agent', name: 'bot', owner: 'dana@example.com' });
  const ids = await Promise.all(
    [1, 2, 3].map(
      async () => (await h.submit(agent, { action: 'deploy.run', resource: 'x' })).body.id as string,
    ),
  );
  const waits = ids.map((id) =>
    fetch(`${h.running.url}/v1/requests/${id}/wait?timeout=30`, {
      headers: { authorization: `Bearer ${agent}` },
    }),
  );
  while (h.running.gateway.waiters.size < ids.length) await new Promise((r) => setTimeout(r, 10));

  const started = Date.now();
  await h.stop();
  expect(Date.now() - started).toBeLessThan(5_000);
  const answers = await Promise.all(waits);
  expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
  const bodies = (await Promise.all(answers.map((r) => r.json()))) as { id: string; status: string }[];
  expect(bodies.map((b) => b.status)).toEqual(['pending', 'pending', 'pending']);
  expect(bodies.map((b) => b.id)).toEqual(ids);
  // No wait read the store after it had closed (that was logged as an error before).
  expect(lines.filter((l) => (JSON.parse(l) as { level: number }).level >= 50)).toEqual([]);
});

it('answers every submission it took in before it closes the store: none committed and then cut', async () => {
  const agent = await h.key({ kind: 'agent', name: 'bot', owner: 'dana@example.com' });
  const submit = () =>
    fetch(`${h.running.url}/v1/actions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${agent}`, 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'read.logs', resource: 'x' }),
    }).then(
      (r) => r.status,
      () => 0, // never taken in: the connection was refused or closed before the request was read
    );
  const answers = Array.from({ length: 50 }, submit);
  // Some answered, some on their way through the store: the shutdown starts in the middle of them.
  await Promise.race(answers);
  await h.stop();
  const got = await Promise.all(answers);
  expect(got.filter((s) => s !== 201 && s !== 503 && s !== 0)).toEqual([]);
  expect(got.filter((s) => s === 201).length).toBeGreaterThan(0);
  // No write met a closed store (each was logged as an error before).
  expect(lines.filter((l) => (JSON.parse(l) as { level: number }).level >= 50)).toEqual([]);

  // Every submission in the store was answered 201 to its client: none was committed and then cut.
  const again = await startHarness(db, POLICY);
  try {
    const submitted = (await again.auditTypes()).filter((t) => t === 'request.submitted').length;
    expect(submitted).toBe(got.filter((s) => s === 201).length);
  } finally {
    await again.stop();
  }
});
