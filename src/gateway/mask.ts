/** What a masked value looks like: at most 4 characters of the original survive (here: none). */
export const MASK = '****[masked]';

/**
 * Returns a copy of `root` with each dotted path (e.g. `parameters.credentials`, `context.token`)
 * replaced by MASK. Paths that do not exist are ignored; `*` matches every key or index at its level.
 */
export function maskPaths<T>(root: T, paths: readonly string[]): T {
  if (paths.length === 0) return root;
  const copy = structuredClone(root) as unknown;
  for (const path of paths) maskOne(copy, path.split('.'));
  return copy as T;
}

function maskOne(node: unknown, segments: string[]): void {
  if (node === null || typeof node !== 'object' || segments.length === 0) return;
  const [head, ...rest] = segments as [string, ...string[]];
  const obj = node as Record<string, unknown>;
  const keys = head === '*' ? Object.keys(obj) : Object.hasOwn(obj, head) ? [head] : [];
  for (const key of keys) {
    if (rest.length === 0) obj[key] = MASK;
    else maskOne(obj[key], rest);
  }
}
