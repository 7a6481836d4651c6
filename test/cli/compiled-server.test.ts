/**
 * The compiled product as a user runs it: `node bin/countersign.js serve` from dist/ (its SQLite store on
 * a store thread), with keys made and revoked by `countersign keys` in other processes on the same file.
 * Skipped, saying so, where dist/ has not been built (`npm install` builds it; so does `npm start`).
 */
import { spawn, type ChildProcess, execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/countersign.js', import.meta.url));
const BUILT = existsSync(fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url)));
if (!BUILT) console.warn('compiled-server tests skipped: dist/ is not built (run `npm run build`)');

const run = promisify(execFile);

describe.skipIf(!BUILT)('compiled server: store thread, CLI beside it', () => {
  let dir: string;
  let config: string;
  let server: ChildProcess;
  let url: string;
  let logs = '';

  const cli = async (...args: string[]): Promise<string> =>
    (await run(process.execPath, [BIN, ...args, '--config', config], { cwd: dir, timeout: 20_000 })).stdout;
  const submit = (token: string) =>
    fetch(`${url}/v1/actions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'read.logs', resource: 'k8s://prod/api', environment: 'production' }),
    });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'countersign-compiled-'));
    config = join(dir, 'countersign.yaml');
    await writeFile(
      join(dir, 'policy.yaml'),
      'version: 1\ndefaults:\n  effect: deny\nrules:\n  - name: reads\n    when: action.startsWith("read.")\n    effect: allow\n',
    );
    await writeFile(
      config,
      `listen: 127.0.0.1:0\nstorage: sqlite:${join(dir, 'cs.db')}\npolicy: ${join(dir, 'policy.yaml')}\ndata_dir: ${dir}\n`,
    );
    // The first key before the server exists, as the README's setup does.
    await cli('keys', 'create', '--name', 'admin', '--kind', 'human', '--email', 'a@example.com', '--json');
    server = spawn(process.execPath, [BIN, 'serve', '--config', config], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start:\n${logs}`)), 20_000);
      const read = (chunk: Buffer) => {
        logs += chunk.toString();
        const m = /listening on (http:\/\/\S+)/.exec(logs);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      };
      server.stdout!.on('data', read);
      server.stderr!.on('data', read);
      server.once('exit', (code) => reject(new Error(`server exited (${code}):\n${logs}`)));
    });
  }, 60_000);

  afterAll(async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('runs its SQLite store on a store thread', () => {
    expect(logs).toMatch(/"thread":true[^\n]*store ready/);
  });

  it('takes a key the CLI makes while it runs, and refuses it the moment the CLI revokes it', async () => {
    const made = JSON.parse(
      await cli('keys', 'create', '--name', 'bot', '--kind', 'agent', '--owner', 'a@example.com', '--json'),
    ) as { id: string; token: string };

    const allowed = await submit(made.token);
    expect(allowed.status).toBe(201);
    expect(((await allowed.json()) as { status: string }).status).toBe('approved');

    await cli('keys', 'revoke', made.id);
    const refused = await submit(made.token);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('UNAUTHENTICATED');
  }, 60_000);

  it('answers 50 concurrent submissions, each once, and stops cleanly', async () => {
    const made = JSON.parse(
      await cli('keys', 'create', '--name', 'bot2', '--kind', 'agent', '--owner', 'a@example.com', '--json'),
    ) as { token: string };
    const answers = await Promise.all(Array.from({ length: 50 }, () => submit(made.token)));
    const ids = await Promise.all(answers.map(async (r) => ((await r.json()) as { id: string }).id));
    expect(answers.every((r) => r.status === 201)).toBe(true);
    expect(new Set(ids).size).toBe(50);

    const exited = new Promise<number | null>((r) => server.once('exit', r));
    server.kill('SIGTERM');
    expect(await exited).toBe(0);
    // Logged once every part has closed: the store thread included, which must not leave close() waiting.
    expect(logs).toMatch(/"msg":"stopped"/);
  }, 60_000);
});
