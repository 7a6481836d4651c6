/**
 * The CLI as a user runs it: key management on the store directly, and the client commands against a
 * real gateway listening on loopback, with the exit codes of DESIGN.md.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keysCreate, keysList, keysRevoke } from '../../src/cli/commands/keys.js';
import { pendingCommand, requestCommand, reviewCommand } from '../../src/cli/commands/requests.js';
import { main } from '../../src/cli/main.js';
import { captureIo } from '../helpers/capture-io.js';
import { startHarness, type Harness } from '../helpers/gateway-harness.js';
import { freshSqliteDatabase, type TestDatabase } from '../helpers/postgres.js';

const capture = captureIo;

describe('countersign keys', () => {
  let dir: string;
  let config: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'countersign-cli-'));
    config = join(dir, 'countersign.yaml');
    await writeFile(config, 'storage: sqlite:./data/cs.db\n');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates a key and prints {"id", "token"} once; lists without secrets; revokes', async () => {
    const io = capture();
    const code = await keysCreate(
      { name: 'deploy-bot', kind: 'agent', owner: 'alice@example.com', expires: '30d', config, json: true },
      io,
    );
    expect(code).toBe(0);
    const created = JSON.parse(io.stdout) as { id: string; token: string };
    expect(created.id).toMatch(/^ak_[0-9a-f]{16}$/);
    expect(created.token).toMatch(/^cs_ak_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    await stat(join(dir, 'data', 'cs.db')); // relative to the config file's folder

    const list = capture();
    expect(await keysList({ config, json: true }, list)).toBe(0);
    expect(list.stdout).not.toContain(created.token);
    expect(list.stdout).not.toContain(created.token.slice(-43));
    const keys = (JSON.parse(list.stdout) as { keys: { id: string; owner: string; expiresAt: string }[] })
      .keys;
    expect(keys).toHaveLength(1);
    expect(keys[0]?.owner).toBe('alice@example.com');
    expect(keys[0]?.expiresAt).toBeTruthy();

    const human = capture();
    expect(await keysList({ config }, human)).toBe(0);
    expect(human.stdout).toMatch(/deploy-bot\s+agent/);

    expect(await keysRevoke(created.id, { config }, capture())).toBe(0);
    const again = capture();
    expect(await keysRevoke(created.id, { config }, again)).toBe(0);
    expect(again.stdout).toContain('already revoked');
    const missing = capture();
    expect(await keysRevoke('ak_ffffffffffffffff', { config }, missing)).toBe(1);
    expect(missing.stderr).toContain('no key');
  });

  it('refuses bad flags with exit code 2 and a message that says how to fix them', async () => {
    const cases: [Parameters<typeof keysCreate>[0], RegExp][] = [
      [{ kind: 'agent', config }, /--name/],
      [{ name: 'x', kind: 'robot', config }, /--kind/],
      [{ name: 'x', kind: 'human', roles: 'root', config }, /role/],
      [{ name: 'x', kind: 'human', email: 'nope', config }, /--email/],
      [{ name: 'x', kind: 'agent', expires: 'soon', config }, /--expires/],
    ];
    for (const [opts, msg] of cases) {
      const io = capture();
      expect(await keysCreate(opts, io)).toBe(2);
      expect(io.stderr).toMatch(msg);
    }
  });

  it('exits 2 on unknown commands and options', async () => {
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = () => true;
    try {
      expect(await main(['node', 'countersign', 'keys', 'create', '--bogus'])).toBe(2);
      expect(await main(['node', 'countersign', 'frobnicate'])).toBe(2);
    } finally {
      process.stderr.write = write;
    }
  });

  it('with --json, reports bad usage as one JSON error on stdout, and nothing on stderr', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const [writeOut, writeErr] = [
      process.stdout.write.bind(process.stdout),
      process.stderr.write.bind(process.stderr),
    ];
    process.stdout.write = (t: string | Uint8Array) => out.push(String(t)) > 0;
    process.stderr.write = (t: string | Uint8Array) => err.push(String(t)) > 0;
    try {
      expect(await main(['node', 'countersign', 'keys', 'revoke', '--json'])).toBe(2);
      expect(await main(['node', 'countersign', 'serve', '--bogus', '--json'])).toBe(2);
    } finally {
      process.stdout.write = writeOut;
      process.stderr.write = writeErr;
    }
    expect(err.join('')).toBe('');
    const [missing, unknown] = out.map((t) => JSON.parse(t) as { error: { code: string; message: string } });
    expect(missing?.error).toEqual({ code: 'USAGE', message: "missing required argument 'id'" });
    expect(unknown?.error).toEqual({ code: 'USAGE', message: "unknown option '--bogus'" });
  });
});

const POLICY = `
version: 1
defaults:
  effect: require_approval
  approval: { approvers: [group:platform], quorum: 2, timeout: 1h }
rules:
  - name: no-public-exports
    when: action == "data.export" && parameters.destination.startsWith("s3://public-")
    effect: deny
    reason: Exports to public buckets are never allowed.
  - name: reads-are-free
    when: action.startsWith("read.")
    effect: allow
`;

describe('countersign request / pending / approve / deny', () => {
  let db: TestDatabase;
  let h: Harness;
  let agent: string;
  let alice: string;
  let bob: string;
  const flags = (token: string) => ({ url: h.running.url, token });

  beforeAll(async () => {
    db = await freshSqliteDatabase();
    h = await startHarness(db, POLICY, { listen: true });
    agent = await h.key({ kind: 'agent', name: 'deploy-bot', owner: 'dana@example.com' });
    alice = await h.key({ email: 'alice@example.com', groups: ['platform'] });
    bob = await h.key({ email: 'bob@example.com', groups: ['platform'] });
  });
  afterAll(async () => {
    await h.stop();
    await db.cleanup();
  });

  it('exits 0 when allowed and 3 when denied', async () => {
    const ok = capture();
    expect(
      await requestCommand({ ...flags(agent), action: 'read.logs', resource: 'k8s://prod', json: true }, ok),
    ).toBe(0);
    expect(JSON.parse(ok.stdout).status).toBe('approved');
    const no = capture();
    const code = await requestCommand(
      { ...flags(agent), action: 'data.export', param: ['destination=s3://public-bucket'] },
      no,
    );
    expect(code).toBe(3);
    expect(no.stdout).toContain('DENIED');
    expect(no.stdout).toContain('public buckets');
  });

  it('waits for two approvals and exits 0; reviewers see it in `pending`', async () => {
    const io = capture();
    const run = requestCommand(
      {
        ...flags(agent),
        action: 'service.restart',
        resource: 'k8s://prod/deploy/api',
        env: 'production',
        param: ['replicas=3', 'strategy.kind=rolling'],
        reason: 'roll out fix',
        wait: true,
        timeout: '60',
        json: true,
      },
      io,
    );
    let id: string | undefined;
    for (let i = 0; i < 100 && !id; i++) {
      const inbox = capture();
      await pendingCommand({ ...flags(alice), json: true }, inbox);
      id = (JSON.parse(inbox.stdout) as { requests: { id: string; action: string }[] }).requests.find(
        (r) => r.action === 'service.restart',
      )?.id;
      if (!id) await new Promise((r) => setTimeout(r, 50));
    }
    expect(id).toBeTruthy();
    const table = capture();
    await pendingCommand(flags(bob), table);
    expect(table.stdout).toMatch(/service\.restart\s+k8s:\/\/prod\/deploy\/api\s+production\s+deploy-bot/);

    expect(await reviewCommand('approve', id as string, { ...flags(alice), comment: 'ok' }, capture())).toBe(
      0,
    );
    expect(await reviewCommand('approve', id as string, flags(bob), capture())).toBe(0);
    expect(await run).toBe(0);
    const done = JSON.parse(io.stdout) as {
      status: string;
      parameters: unknown;
      approval: { reviews: { channel: string }[] };
    };
    expect(done.status).toBe('approved');
    expect(done.parameters).toEqual({ replicas: 3, strategy: { kind: 'rolling' } });
    expect(done.approval.reviews.map((r) => r.channel)).toEqual(['cli', 'cli']);
  });

  it('exits 4 when the wait times out, and 3 after a deny', async () => {
    const io = capture();
    expect(
      await requestCommand({ ...flags(agent), action: 'deploy.run', wait: true, timeout: '1' }, io),
    ).toBe(4);
    expect(io.stderr).toContain('timed out');
    const sub = await h.submit(agent, { action: 'deploy.run' });
    const waiting = requestCommand(
      { ...flags(agent), action: 'deploy.run', wait: true, timeout: '30', idempotencyKey: 'k1' },
      capture(),
    );
    void waiting;
    const denyNoComment = capture();
    expect(await reviewCommand('deny', sub.body.id as string, flags(alice), denyNoComment)).toBe(2);
    expect(denyNoComment.stderr).toContain('--comment');
    expect(
      await reviewCommand('deny', sub.body.id as string, { ...flags(alice), comment: 'no' }, capture()),
    ).toBe(0);
    const replay = capture();
    // the idempotent replay finds the request made by `waiting`; deny it and both exit 3
    const mine = await h.submit(agent, { action: 'deploy.run' }, { 'idempotency-key': 'k1' });
    await reviewCommand('deny', mine.body.id as string, { ...flags(bob), comment: 'no' }, capture());
    expect(await waiting).toBe(3);
    expect(
      await requestCommand({ ...flags(agent), action: 'deploy.run', idempotencyKey: 'k1' }, replay),
    ).toBe(3);
  });

  it('reports refusals with their code and exit 1; missing token is bad usage', async () => {
    const sub = await h.submit(alice, { action: 'deploy.run' });
    const io = capture();
    expect(await reviewCommand('approve', sub.body.id as string, flags(alice), io)).toBe(1);
    expect(io.stderr).toContain('SELF_APPROVAL_FORBIDDEN');
    const noToken = capture();
    expect(await pendingCommand({ url: h.running.url }, noToken)).toBe(2);
    expect(noToken.stderr).toContain('COUNTERSIGN_TOKEN');
    const down = capture();
    expect(await pendingCommand({ url: 'http://127.0.0.1:9', token: alice }, down)).toBe(1);
    expect(down.stderr).toContain('cannot reach');
  });
});

describe('demo keys', () => {
  it('are written once with mode 0600', async () => {
    const { ensureDemoKeys } = await import('../../src/identity/demo-keys.js');
    const { systemClock } = await import('../../src/core/clock.js');
    const db = await freshSqliteDatabase();
    const dir = await mkdtemp(join(tmpdir(), 'countersign-demo-'));
    try {
      const store = await db.open();
      const file = join(dir, 'demo-keys.json');
      const keys = await ensureDemoKeys(store, systemClock, file);
      expect(Object.keys(keys ?? {})).toEqual(['agent', 'reviewer1', 'reviewer2', 'admin']);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(keys);
      expect(await ensureDemoKeys(store, systemClock, file)).toBeNull();
    } finally {
      await db.cleanup();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
