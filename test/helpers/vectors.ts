/**
 * Public test vectors live in ../shared/vectors (beside the project, never copied into it).
 * Where the folder is absent, as in a user's clone, suites that need them skip with a visible message.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const VECTORS_DIR = fileURLToPath(new URL('../../../shared/vectors/', import.meta.url));

export function vectorsAvailable(relative: string): boolean {
  const ok = existsSync(new URL(relative, `file://${VECTORS_DIR}`));
  if (!ok)
    console.warn(`test vectors ${VECTORS_DIR}${relative} not found: skipping the suites that need them`);
  return ok;
}

export function readVector<T>(relative: string): T {
  return JSON.parse(readFileSync(new URL(relative, `file://${VECTORS_DIR}`), 'utf8')) as T;
}
