/**
 * The HTTP edge: bad input to every route answers a 4xx with a stable code and a clear message, never a
 * 500 or a stack trace; the operational routes; rate limits and the body limit; secrets stay out of logs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/gateway-harness.js';
import { freshSqliteDatabase, type TestDatabase } from '../helpers/postgres.js';

const POLICY = `
version: 1
defaults:
  effect: require_approval
  approval: { approvers: [group:platform], quorum: 1, timeout: 1h }
rules:
  - name: reads-are-free
    when: action.startsWith("read.")
    effect: allow
  - name: secret-params
    when: action == "db.rotate"
    effect: require_approval
    mask: [parameters.password]
`;

describe('HTTP edge', () => {
  let db: TestDatabase;
  let h: Harness;
  let agent: string;
  let alice: string;
  let pendingId: string;

  beforeAll(async () => {
    db = await freshSqliteDatabase();
    h = await startHarness(db, POLICY, { bodyBytes: 16 * 1024 });
    agent = await h.key({ kind: 'agent', name: 'bot', owner: 'dana@example.com' });
    alice = await h.key({ email: 'alice@example.com', groups: ['platform'] });
    pendingId = (await h.submit(agent, { action: 'deploy.run', resource: 'x' })).body.id as string;
  });
  afterAll(async () => {
    await h.stop();
    await db.cleanup();
  });

  const expectError = (
    r: { status: number; body: { error?: { code: string; message: string } } },
    status: number,
    code: string,
  ) => {
    expect(r.status).toBe(status);
    expect(r.body.error?.code).toBe(code);
    expect(r.body.error?.message).toBeTruthy();
    expect(JSON.stringify(r.body)).not.toMatch(/\n\s+at |node_modules/);
  };

  it('requires a valid bearer credential on every /v1 route', async () => {
    const routes: ['GET' | 'POST', string][] = [
      ['POST', '/v1/actions'],
      ['GET', '/v1/requests'],
      ['GET', `/v1/requests/${pendingId}`],
      ['GET', `/v1/requests/${pendingId}/wait?timeout=0`],
      ['POST', `/v1/requests/${pendingId}/approve`],
      ['POST', `/v1/requests/${pendingId}/deny`],
      ['POST', `/v1/requests/${pendingId}/cancel`],
    ];
    for (const [method, url] of routes) {
      expectError(
        await h.call(method, url, undefined, method === 'POST' ? {} : undefined),
        401,
        'UNAUTHENTICATED',
      );
      expectError(
        await h.call(
          method,
          url,
          'cs_ak_0000000000000000_' + 'A'.repeat(43),
          method === 'POST' ? {} : undefined,
        ),
        401,
        'UNAUTHENTICATED',
      );
      expectError(
        await h.call(method, url, 'not-a-key', method === 'POST' ? {} : undefined),
        401,
        'UNAUTHENTICATED',
      );
    }
    expectError(
      await h.call('GET', '/v1/requests', undefined, undefined, { authorization: 'Basic abc' }),
      401,
      'UNAUTHENTICATED',
    );
  });

  it('rejects revoked keys', async () => {
    const token = await h.key({ kind: 'agent', owner: 'x@example.com' });
    const id = /^cs_(ak_[0-9a-f]{16})_/.exec(token)?.[1] as string;
    const at = new Date().toISOString();
    await h.store.revokeApiKey(id, at, {
      type: 'key.revoked',
      at,
      requestId: null,
      actor: { id: 't', kind: 'system', personId: null, channel: 'system' },
      data: {},
    });
    expectError(await h.call('GET', '/v1/requests', token), 401, 'UNAUTHENTICATED');
  });

  it('validates submissions field by field', async () => {
    const bad: [unknown, RegExp][] = [
      [{}, /action/],
      [{ action: '' }, /action/],
      [{ action: 'has spaces' }, /action/],
      [{ action: 'a.b', parameters: 'nope' }, /parameters/],
      [{ action: 'a.b', parameters: [1, 2] }, /parameters/],
      [{ action: 'a.b', unknownField: 1 }, /unknownField|unrecognized/i],
      [{ action: 'a.b', onBehalfOf: 'not-an-email' }, /onBehalfOf/],
      [{ action: 'a.b', reason: 42 }, /reason/],
      [{ action: 'x'.repeat(201) }, /action/],
      [
        { action: 'a.b', parameters: JSON.parse('{"a":'.repeat(40) + '1' + '}'.repeat(40)) as unknown },
        /nested/,
      ],
    ];
    for (const [body, field] of bad) {
      const r = await h.submit(agent, body as Record<string, unknown>);
      expectError(r, 400, 'INVALID_REQUEST');
      expect(r.body.error.message).toMatch(field);
    }
  });

  it('answers malformed JSON, wrong content types and empty bodies with INVALID_REQUEST', async () => {
    const raw = async (payload: string, contentType: string) => {
      const res = await h.running.app.inject({
        method: 'POST',
        url: '/v1/actions',
        headers: { authorization: `Bearer ${agent}`, 'content-type': contentType },
        payload,
      });
      return {
        status: res.statusCode,
        body: JSON.parse(res.body) as { error?: { code: string; message: string } },
      };
    };
    expectError(await raw('{"action":', 'application/json'), 400, 'INVALID_REQUEST');
    expectError(await raw('action=x', 'application/x-www-form-urlencoded'), 400, 'INVALID_REQUEST');
    expectError(await raw('', 'application/json'), 400, 'INVALID_REQUEST');
    expectError(await raw('[1,2]', 'application/json'), 400, 'INVALID_REQUEST');
    expectError(await raw('null', 'application/json'), 400, 'INVALID_REQUEST');
  });

  it('refuses JSON values that no digest or store can carry: lone surrogates, numbers out of range', async () => {
    const raw = async (url: string, payload: string, token: string) => {
      const res = await h.running.app.inject({
        method: 'POST',
        url,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        payload,
      });
      return {
        status: res.statusCode,
        body: JSON.parse(res.body) as { error?: { code: string; message: string } },
      };
    };
    // JSON.stringify writes a lone surrogate as the escape \ud800: valid JSON, but not text.
    const bodies: [string, string, string, RegExp][] = [
      ['/v1/actions', JSON.stringify({ action: 'a.b', parameters: { s: '\ud800' } }), agent, /parameters\.s/],
      ['/v1/actions', JSON.stringify({ action: 'a.b', reason: 'x\udfff' }), agent, /reason/],
      [
        '/v1/actions',
        JSON.stringify({ action: 'a.b', context: { k: ['ok', '\ud83d'] } }),
        agent,
        /context\.k\[1\]/,
      ],
      ['/v1/actions', JSON.stringify({ action: 'a.b', parameters: { '\ud800': 1 } }), agent, /key/],
      ['/v1/actions', '{"action":"a.b","parameters":{"n":1e400}}', agent, /parameters\.n.*out of range/],
      [`/v1/requests/${pendingId}/approve`, JSON.stringify({ comment: '\ud800' }), alice, /comment/],
      [`/v1/requests/${pendingId}/cancel`, JSON.stringify({ reason: '\ud800' }), agent, /reason/],
      ['/v1/actions', '['.repeat(70) + ']'.repeat(70), agent, /nested deeper/],
    ];
    for (const [url, payload, token, message] of bodies) {
      const r = await raw(url, payload, token);
      expectError(r, 400, 'INVALID_REQUEST');
      expect(r.body.error?.message).toMatch(message);
    }
    // A well-formed pair (an emoji) is text, and the request is still pending: nothing above changed it.
    const ok = await h.submit(agent, { action: 'a.b', parameters: { s: '\ud83d\ude00' } });
    expect(ok.status).toBe(201);
    expect((await h.call('GET', `/v1/requests/${pendingId}`, alice)).body).toMatchObject({
      status: 'pending',
    });
  });

  it('takes an empty body with Content-Type: application/json as {}, and a cancel note as reason or comment', async () => {
    const empty = async (url: string, token: string) =>
      h.running.app.inject({
        method: 'POST',
        url,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      });
    const first = (await h.submit(agent, { action: 'deploy.run', resource: 'empty-body' })).body.id as string;
    const approved = await empty(`/v1/requests/${first}/approve`, alice);
    expect(approved.statusCode).toBe(200);
    expect(JSON.parse(approved.body)).toMatchObject({ status: 'approved' });
    const second = (await h.submit(agent, { action: 'deploy.run', resource: 'cancel-comment' })).body
      .id as string;
    const cancelled = await h.call('POST', `/v1/requests/${second}/cancel`, agent, { comment: 'not needed' });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: 'cancelled' });
    const third = (await h.submit(agent, { action: 'deploy.run', resource: 'cancel-empty' })).body
      .id as string;
    expect((await empty(`/v1/requests/${third}/cancel`, agent)).statusCode).toBe(200);
  });

  it('reads the Bearer scheme name in any case', async () => {
    const r = await h.call('GET', '/v1/requests', undefined, undefined, { authorization: `bearer ${alice}` });
    expect(r.status).toBe(200);
  });

  it('refuses bodies over the limit with 413 PAYLOAD_TOO_LARGE', async () => {
    const r = await h.submit(agent, { action: 'a.b', parameters: { blob: 'x'.repeat(20_000) } });
    expectError(r, 413, 'PAYLOAD_TOO_LARGE');
  });

  it('validates the Idempotency-Key header', async () => {
    expectError(
      await h.submit(agent, { action: 'a.b' }, { 'idempotency-key': 'x'.repeat(300) }),
      400,
      'INVALID_REQUEST',
    );
  });

  it('answers 404 NOT_FOUND for ids that name no request, whatever their shape', async () => {
    for (const id of [
      'req_doesnotexist',
      'x',
      '12345',
      '%20',
      'req_' + 'f'.repeat(24),
      encodeURIComponent("' or 1=1 --"),
      // Past Fastify's parameter length limit, and percent-encoding that decodes to nothing.
      'x'.repeat(101),
      'x'.repeat(5000),
      '%zz',
      '%E0%A4%A',
    ]) {
      expectError(await h.call('GET', `/v1/requests/${id}`, alice), 404, 'NOT_FOUND');
      expectError(await h.call('GET', `/v1/requests/${id}/wait?timeout=0`, alice), 404, 'NOT_FOUND');
      expectError(await h.approve(alice, id), 404, 'NOT_FOUND');
      expectError(await h.deny(alice, id), 404, 'NOT_FOUND');
      expectError(await h.call('POST', `/v1/requests/${id}/cancel`, agent, {}), 404, 'NOT_FOUND');
    }
  });

  it('validates query strings and review bodies', async () => {
    expectError(
      await h.call('GET', `/v1/requests/${pendingId}/wait?timeout=abc`, agent),
      400,
      'INVALID_REQUEST',
    );
    expectError(
      await h.call('GET', `/v1/requests/${pendingId}/wait?timeout=-1`, agent),
      400,
      'INVALID_REQUEST',
    );
    expectError(
      await h.call('GET', `/v1/requests/${pendingId}/wait?timeout=100000`, agent),
      400,
      'INVALID_REQUEST',
    );
    expectError(await h.call('GET', '/v1/requests?status=bogus', alice), 400, 'INVALID_REQUEST');
    expectError(await h.call('GET', '/v1/requests?limit=0', alice), 400, 'INVALID_REQUEST');
    expectError(
      await h.call('POST', `/v1/requests/${pendingId}/approve`, alice, { comment: 5 }),
      400,
      'INVALID_REQUEST',
    );
    expectError(
      await h.call('POST', `/v1/requests/${pendingId}/deny`, alice, { verdict: 'x' }),
      400,
      'INVALID_REQUEST',
    );
    expectError(
      await h.call('POST', `/v1/requests/${pendingId}/cancel`, agent, { reason: [] }),
      400,
      'INVALID_REQUEST',
    );
  });

  it('answers unknown routes with 404 NOT_FOUND in the error format', async () => {
    expectError(await h.call('GET', '/v1/nope', alice), 404, 'NOT_FOUND');
  });

  it('shows the inbox: what a reviewer may review, and what an agent asked for', async () => {
    const inbox = await h.call('GET', '/v1/requests?status=pending', alice);
    expect(inbox.status).toBe(200);
    expect(inbox.body.requests.map((r: { id: string }) => r.id)).toContain(pendingId);
    const mine = await h.call('GET', '/v1/requests', agent);
    expect(mine.body.requests.map((r: { id: string }) => r.id)).toContain(pendingId);
    const stranger = await h.key({ email: 'eve@example.com', groups: ['other'] });
    expect((await h.call('GET', '/v1/requests?status=pending', stranger)).body.requests).toEqual([]);
    expectError(await h.call('GET', `/v1/requests/${pendingId}`, stranger), 404, 'NOT_FOUND');
  });

  it('masks the paths a rule names in every view', async () => {
    const r = await h.submit(agent, {
      action: 'db.rotate',
      parameters: { password: 'hunter2-very-secret', user: 'app' },
    });
    expect(r.body.parameters).toEqual({
      password: expect.not.stringContaining('hunter2') as unknown,
      user: 'app',
    });
    const view = await h.call('GET', `/v1/requests/${r.body.id}`, alice);
    expect(JSON.stringify(view.body)).not.toContain('hunter2');
  });

  it('serves healthz, readyz, metrics and the OpenAPI document', async () => {
    expect((await h.call('GET', '/healthz')).body).toEqual({ status: 'ok' });
    expect((await h.call('GET', '/readyz')).status).toBe(200);
    const metrics = await h.call('GET', '/metrics');
    expect(metrics.status).toBe(200);
    expect(String(metrics.body)).toContain('countersign_action_requests_total');
    const doc = await h.call('GET', '/v1/openapi.json');
    expect(doc.body.openapi).toBe('3.1.0');
    for (const p of [
      '/v1/actions',
      '/v1/requests',
      '/v1/requests/{id}',
      '/v1/requests/{id}/wait',
      '/v1/requests/{id}/approve',
      '/v1/requests/{id}/deny',
      '/v1/requests/{id}/cancel',
    ]) {
      expect(doc.body.paths[p], p).toBeDefined();
    }
    expect(
      doc.body.paths['/v1/actions'].post.requestBody.content['application/json'].schema.required,
    ).toContain('action');
  });

  it('sets a request id on every response', async () => {
    const r = await h.call('GET', '/healthz');
    expect(r.headers['x-request-id']).toBeTruthy();
  });

  it("sets helmet's security headers on every response, errors included", async () => {
    const responses = [
      await h.call('GET', '/healthz'),
      await h.call('GET', '/v1/nowhere'),
      // Errors raised in the handler, in authentication and in body parsing.
      await h.call('POST', '/v1/actions', agent, { action: 42 }),
      await h.call('GET', '/v1/requests', 'cs_ak_0000000000000000_nope'),
      await h.call('POST', '/v1/actions', agent, '{"action":', { 'content-type': 'application/json' }),
      await h.call('POST', '/v1/actions', agent, { action: 'x'.repeat(20_000) }),
      // Answered by Fastify's framework-error path, where no hook runs.
      await h.call('GET', '/v1/requests/%zz'),
      await h.call('GET', `/v1/requests/${'x'.repeat(200)}`),
    ];
    expect(responses.map((r) => r.status)).toEqual([200, 404, 400, 401, 400, 413, 404, 404]);
    for (const r of responses) {
      expect(r.headers['x-request-id'], `${r.status}`).toBeTruthy();
      expect(r.headers['content-security-policy']).toContain("default-src 'self'");
      expect(r.headers['strict-transport-security']).toMatch(/^max-age=\d+/);
      expect(r.headers['x-content-type-options']).toBe('nosniff');
      expect(r.headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(r.headers['referrer-policy']).toBe('no-referrer');
    }
  });
});

describe('rate limits and store outages', () => {
  it('limits each principal separately and answers 429 RATE_LIMITED', async () => {
    const db = await freshSqliteDatabase();
    const h = await startHarness(db, POLICY, { requestsPerMinute: 5 });
    try {
      const a = await h.key({ kind: 'agent', owner: 'a@example.com' });
      const b = await h.key({ kind: 'agent', owner: 'b@example.com' });
      const codes = [];
      for (let i = 0; i < 7; i++) codes.push((await h.call('GET', '/v1/requests', a)).status);
      expect(codes.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
      const limited = await h.call('GET', '/v1/requests', a);
      expect(limited.status).toBe(429);
      expect(limited.body.error.code).toBe('RATE_LIMITED');
      expect((await h.call('GET', '/v1/requests', b)).status).toBe(200);
    } finally {
      await h.stop();
      await db.cleanup();
    }
  });

  it('answers 503 UNAVAILABLE when the store is unreachable, and never allows', async () => {
    const db = await freshSqliteDatabase();
    const h = await startHarness(db, POLICY);
    try {
      const agent = await h.key({ kind: 'agent', owner: 'a@example.com' });
      // Break the store underneath the running gateway.
      await (h.store as unknown as { close(): Promise<void> }).close();
      const r = await h.submit(agent, { action: 'read.logs' });
      expect(r.status).toBe(503);
      expect(r.body.error.code).toBe('UNAVAILABLE');
      expect((await h.call('GET', '/readyz')).status).toBe(503);
    } finally {
      // The store is closed already; the rest (app, sweeper, checkpointer, folder) still has to go.
      await h.stop().catch(() => {});
      await db.cleanup();
    }
  });
});
