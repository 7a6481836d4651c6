import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from './open-store.js';

describe('openStore', () => {
  it('refuses an unknown scheme, saying which forms it accepts and without echoing the URL', async () => {
    await expect(openStore('mysql://root:secret@db/x')).rejects.toThrow(
      /"mysql:".*sqlite:PATH.*postgres:\/\//,
    );
    await expect(openStore('mysql://root:secret@db/x')).rejects.not.toThrow(/secret/);
    await expect(openStore('just-a-file.db')).rejects.toThrow(/without a scheme/);
    await expect(openStore('sqlite:')).rejects.toThrow(/names no file/);
  });

  it('opens an in-memory SQLite store, migrated', async () => {
    const store = await openStore('sqlite::memory:');
    expect(store.kind).toBe('sqlite');
    expect(await store.countApiKeys()).toBe(0);
    await store.close();
  });

  it('creates the parent directories of a SQLite path relative to the working directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'countersign-open-'));
    try {
      const file = join(dir, 'a', 'b', 'countersign.db');
      const store = await openStore(`sqlite:${relative(process.cwd(), file)}`);
      await store.close();
      expect(existsSync(file)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rejects, without retrying forever, when PostgreSQL is unreachable', async () => {
    // Port 1 on loopback: nothing listens, so the connection is refused at once.
    await expect(openStore('postgresql://postgres@127.0.0.1:1/test')).rejects.toThrow(/ECONNREFUSED|connect/);
  });
});
