/** `countersign serve`: refuses a malformed policy at start; with no config, makes demo keys once. */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { serveCommand } from '../../src/cli/commands/serve.js';
import type { Io } from '../../src/cli/output.js';

function capture(): Io & { stderr: string } {
  const io = { stderr: '', isTTY: false, out() {}, err: (t: string) => void (io.stderr += `${t}\n`) };
  return io;
}

describe('countersign serve', () => {
  let dir: string;
  const saved = { ...process.env };
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'countersign-serve-'));
  });
  afterEach(async () => {
    process.env = { ...saved };
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a malformed policy at start, naming the rule, the line and the problem', async () => {
    await writeFile(
      join(dir, 'policy.yaml'),
      [
        'version: 1',
        'defaults:',
        '  effect: require_approval',
        '  approval: { approvers: [group:platform] }',
        'rules:',
        '  - name: prod-restarts',
        '    when: action == "service.restart" &&',
        '    effect: require_approval',
      ].join('\n'),
    );
    await writeFile(
      join(dir, 'countersign.yaml'),
      'policy: policy.yaml\nstorage: sqlite:cs.db\nlisten: 127.0.0.1:0\n',
    );
    const io = capture();
    expect(await serveCommand({ config: join(dir, 'countersign.yaml') }, io)).toBe(1);
    expect(io.stderr).toContain('prod-restarts');
    expect(io.stderr).toMatch(/policy\.yaml:7/);
    expect(io.stderr).toContain('did not start');
  });

  it('refuses a bad config with a message naming the key', async () => {
    await writeFile(join(dir, 'countersign.yaml'), 'listen: nowhere\nstorrage: x\n');
    const io = capture();
    expect(await serveCommand({ config: join(dir, 'countersign.yaml') }, io)).toBe(1);
    expect(io.stderr).toMatch(/storrage/);
  });

  it('with no config, serves the example policy and writes demo keys once (0600)', async () => {
    process.env.COUNTERSIGN_DATA_DIR = dir;
    process.env.COUNTERSIGN_LISTEN = '127.0.0.1:0';
    process.env.COUNTERSIGN_LOG_LEVEL = 'silent';
    const io = capture();
    const running = serveCommand({}, io);
    for (let i = 0; i < 200 && !io.stderr.includes('demo keys'); i++)
      await new Promise((r) => setTimeout(r, 25));
    const url = /listening on (http:\/\/\S+)/.exec(io.stderr)?.[1];
    expect(url).toBeTruthy();
    const keys = JSON.parse(await readFile(join(dir, 'demo-keys.json'), 'utf8'));
    expect((await stat(join(dir, 'demo-keys.json'))).mode & 0o777).toBe(0o600);
    const res = await fetch(`${url}/v1/actions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${keys.agent.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        action: 'service.restart',
        resource: 'k8s://prod/deploy/api',
        environment: 'production',
      }),
    });
    expect(res.status).toBe(201);
    expect(((await res.json()) as { status: string }).status).toBe('pending');
    process.emit('SIGTERM');
    expect(await running).toBe(0);
  });

  it('with --json, prints its start-up summary as one JSON line (and never a token)', async () => {
    process.env.COUNTERSIGN_DATA_DIR = dir;
    process.env.COUNTERSIGN_LISTEN = '127.0.0.1:0';
    process.env.COUNTERSIGN_LOG_LEVEL = 'silent';
    const lines: string[] = [];
    const io = { ...capture(), out: (t: string) => void lines.push(t) };
    const running = serveCommand({ json: true }, io);
    for (let i = 0; i < 200 && lines.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    const summary = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
    expect(summary).toMatchObject({
      listening: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      policyIsExample: true,
      demoKeys: join(dir, 'demo-keys.json'),
    });
    expect(lines.join('')).not.toMatch(/cs_ak_/);
    expect(io.stderr).toBe('');
    process.emit('SIGTERM');
    expect(await running).toBe(0);
  });
});
