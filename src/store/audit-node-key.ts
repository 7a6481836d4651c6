/**
 * Where the store keeps the audit tree's node (level, idx), the perfect subtree over leaves
 * [idx·2^level, (idx+1)·2^level): its key is the last leaf it covers, then its level,
 * `((idx + 1)·2^level − 1)·64 + level`. The nodes an append writes all cover the newest leaves, so they
 * sit side by side at the end of one B-tree: a commit rewrites one page of it instead of one per level
 * plus a separate index (migration 0006). Exact below 2^47 leaves.
 */
export function auditNodeKey(level: number, idx: number): number {
  const key = ((idx + 1) * 2 ** level - 1) * 64 + level;
  if (!Number.isInteger(level) || level < 0 || level >= 64 || !Number.isInteger(idx) || idx < 0)
    throw new Error(`not an audit tree node: (${level}, ${idx})`);
  if (!Number.isSafeInteger(key)) throw new Error(`audit tree node (${level}, ${idx}) is beyond 2^47 leaves`);
  return key;
}
