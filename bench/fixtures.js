// What the HTTP benchmarks share: the gateway's policy and set-up, and CPU time per thread from /proc.
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../dist/core/clock.js';
import { loadConfig } from '../dist/config/config.js';
import { createApiKey } from '../dist/identity/api-keys.js';
import { createLogger } from '../dist/logger.js';
import { startGateway } from '../dist/server/serve.js';

export const GATEWAY_POLICY = `version: 1
defaults:
  effect: deny
rules:
  - name: reads-are-free
    when: action.startsWith("read.")
    effect: allow
  - name: deploys-need-platform
    when: action == "deploy.run"
    effect: require_approval
    approval: { approvers: [group:platform], quorum: 1, timeout: 1h }
`;

/**
 * CPU time (ms) of each of this process's threads, by thread id (the main thread's id is the pid): shows
 * how the gateway's work splits between the event loop, the store thread and libuv's pool. Null off Linux.
 * @returns {Record<string, number> | null}
 */
export function threadTimes() {
  try {
    /** @type {Record<string, number>} */
    const out = {};
    for (const tid of readdirSync('/proc/self/task')) {
      // Fields after the command name: state is 3rd, utime 14th and stime 15th of the whole line.
      const fields = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      out[tid] = ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks of 10 ms
    }
    return out;
  } catch {
    return null;
  }
}

export const BENCH_ACTOR = /** @type {const} */ ({
  id: 'bench',
  kind: 'system',
  personId: null,
  channel: 'system',
});

/**
 * The gateway as the benchmarks run it, in a fresh temporary directory: `countersign serve`'s config
 * path (its environment variables), a SQLite file, GATEWAY_POLICY, rate limit off, logs silent; with
 * an agent key made on its store.
 * @param {string} prefix the temporary directory's name prefix
 */
export async function startBenchGateway(prefix) {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const policy = join(dir, 'policy.yaml');
  await writeFile(policy, GATEWAY_POLICY);
  const config = await loadConfig(null, {
    COUNTERSIGN_LISTEN: '127.0.0.1:0',
    COUNTERSIGN_STORAGE: `sqlite:${join(dir, 'countersign.db')}`,
    COUNTERSIGN_POLICY: policy,
    COUNTERSIGN_DATA_DIR: dir,
    COUNTERSIGN_RATE_LIMIT: '0',
    COUNTERSIGN_LOG_LEVEL: 'silent',
  });
  const running = await startGateway(config, createLogger('silent'));
  const agent = await createApiKey(
    running.store,
    systemClock,
    { name: 'bench-bot', kind: 'agent', owner: 'alice@example.com' },
    BENCH_ACTOR,
  );
  return { dir, config, running, agent };
}
