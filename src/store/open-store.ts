import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { ActivePayloadKey } from '../audit/payload-crypto.js';
import { createPostgresStore } from './postgres/postgres-store.js';
import { createSqliteStore } from './sqlite/sqlite-store.js';
import { compiledStoreThread, ThreadedSqliteStore, type SpawnStoreThread } from './sqlite/threaded-store.js';
import type { Store } from './store.js';

export interface OpenStoreOptions {
  /** PostgreSQL only: the schema to live in (created if missing); tests use one per suite. */
  schema?: string;
  /**
   * SQLite files only: run the connection on a thread of its own (sqlite/threaded-store.ts), as the
   * server does. `true` starts the compiled store thread, and falls back to this thread where there is
   * none (running from the TypeScript sources); a function starts it its own way (tests).
   */
  thread?: boolean | SpawnStoreThread;
  /**
   * SQLite files on a store thread only: the thread seals the payloads it is given to seal
   * (`PayloadToSeal`) with this key, off the event loop. Other stores leave sealing to the caller
   * (`sealsPayloads` says which).
   */
  payloadKey?: ActivePayloadKey;
}

const ACCEPTED =
  'sqlite:PATH (PATH relative to the working directory or absolute; sqlite::memory: for an in-memory database), ' +
  'postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE or postgresql://…';

/**
 * Opens the store a URL names and migrates it to the latest schema before returning.
 * Connection and migration failures reject (nothing retries forever).
 */
export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  const store = createStore(url, options);
  try {
    await store.migrate();
  } catch (err) {
    await store.close().catch(() => {});
    throw err;
  }
  return store;
}

function createStore(url: string, options: OpenStoreOptions): Store {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    if (path === '') throw new Error(`store URL "sqlite:" names no file; accepted: ${ACCEPTED}`);
    if (path === ':memory:') return createSqliteStore(path);
    const file = resolve(path);
    // The database holds key hashes and request payloads: keep its folder private.
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const spawn =
      typeof options.thread === 'function' ? options.thread : options.thread ? compiledStoreThread() : null;
    if (spawn === null) return createSqliteStore(file);
    return new ThreadedSqliteStore(
      file,
      spawn,
      options.payloadKey === undefined ? {} : { payloadKey: options.payloadKey },
    );
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    return createPostgresStore({ url, ...(options.schema === undefined ? {} : { schema: options.schema }) });
  }
  // Only the scheme is echoed: the rest of a URL may hold a password.
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1];
  const what = scheme === undefined ? 'a store URL without a scheme' : `store URL scheme "${scheme}:"`;
  throw new Error(`unsupported ${what}; accepted: ${ACCEPTED}`);
}
