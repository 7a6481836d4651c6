/**
 * Public test vectors live in ../shared/vectors (beside the project, never copied into it).
 * Where the folder is absent, as in a user's clone, suites that need them skip with a visible message.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const VECTORS_DIR =
  process.env.COUNTERSIGN_VECTORS_DIR ?? fileURLToPath(new URL('../../../shared/vectors/', import.meta.url));

export function vectorsAvailable(relative: string): boolean {
  const ok = existsSync(new URL(relative, `file://${VECTORS_DIR}`));
  if (!ok)
    console.warn(`test vectors ${VECTORS_DIR}${relative} not found: skipping the suites that need them`);
  return ok;
}

/**
 * Reads a vector file. When it is absent, returns a stand-in whose every field is an empty list: suites
 * are wrapped in `describe.skipIf(!vectorsAvailable(…))`, but vitest still runs a skipped suite's body
 * to collect its tests, and that body must not throw.
 */
export function readVector<T>(relative: string): T {
  const url = new URL(relative, `file://${VECTORS_DIR}`);
  if (!existsSync(url)) return new Proxy({}, { get: () => [] }) as T;
  return JSON.parse(readFileSync(url, 'utf8')) as T;
}
