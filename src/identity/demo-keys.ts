import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Clock } from '../core/clock.js';
import type { Store } from '../store/store.js';
import { createApiKey, type NewApiKey } from './api-keys.js';

/** The demo principals of the README walkthrough: one agent, two reviewers, one admin. */
const DEMO: { role: string; key: NewApiKey }[] = [
  { role: 'agent', key: { name: 'deploy-bot', kind: 'agent', owner: 'dana@example.com', groups: [] } },
  {
    role: 'reviewer1',
    key: { name: 'alice', kind: 'human', email: 'alice@example.com', groups: ['platform', 'sre'] },
  },
  { role: 'reviewer2', key: { name: 'bob', kind: 'human', email: 'bob@example.com', groups: ['platform'] } },
  {
    role: 'admin',
    key: { name: 'admin', kind: 'human', email: 'admin@example.com', roles: ['admin', 'auditor'] },
  },
];

export interface DemoKey {
  id: string;
  token: string;
  name: string;
  kind: string;
  email: string | null;
}

/**
 * On the very first start without a config (an empty store), creates the demo keys and writes them to
 * `file` with mode 0600. Returns null when the store already has keys: demo keys are made once only.
 */
export async function ensureDemoKeys(
  store: Store,
  clock: Clock,
  file: string,
): Promise<Record<string, DemoKey> | null> {
  if ((await store.countApiKeys()) > 0) return null;
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  // Open (and tighten) the file before any token exists, so a token is never written where others could read it.
  // A leftover file from a wiped store holds dead tokens: it is replaced.
  const handle = await open(file, 'w', 0o600);
  try {
    await handle.chmod(0o600);
    const out: Record<string, DemoKey> = {};
    for (const { role, key } of DEMO) {
      const { record, token } = await createApiKey(store, clock, key, {
        id: 'bootstrap',
        kind: 'system',
        personId: null,
        channel: 'system',
      });
      out[role] = { id: record.id, token, name: record.name, kind: record.kind, email: record.email };
    }
    await handle.writeFile(`${JSON.stringify(out, null, 2)}\n`);
    return out;
  } finally {
    await handle.close();
  }
}
