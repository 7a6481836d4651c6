/**
 * The store's audit tree as the proofs library sees it, with the range checks the HTTP API answers with.
 * Stored nodes are perfect subtrees of committed leaves, so they never change: reads need no lock, and
 * the large (high) ones, which every proof shares, are kept in memory.
 */
import { CountersignError } from '../core/errors.js';
import type { Store } from '../store/store.js';
import { consistencyProof, inclusionProof, rootAt, type SubtreeSource } from './proofs.js';

/** Nodes at this level and above (each covering >= 256 leaves) are cached: at most n/256 of them. */
const CACHE_FROM_LEVEL = 8;
const CACHE_MAX = 200_000;

type TreeReader = Pick<Store, 'auditNodes'>;

const caches = new WeakMap<TreeReader, Map<string, Buffer>>();

/**
 * A SubtreeSource over the store. The proofs library asks for all the nodes of a proof at once
 * (synchronously, then awaits them together); they are gathered and read in one round trip.
 */
export function storeSubtreeSource(store: TreeReader): SubtreeSource {
  let cache = caches.get(store);
  if (cache === undefined) {
    cache = new Map();
    caches.set(store, cache);
  }
  const shared = cache;
  let batch: { level: number; index: number; resolve: (b: Buffer) => void; reject: (e: unknown) => void }[] =
    [];
  const flush = () => {
    const asked = batch;
    batch = [];
    store.auditNodes(asked.map((a) => [a.level, a.index] as const)).then(
      (hashes) =>
        asked.forEach((a, i) => {
          const hash = hashes[i] as Buffer;
          if (a.level >= CACHE_FROM_LEVEL && shared.size < CACHE_MAX)
            shared.set(`${a.level}/${a.index}`, hash);
          a.resolve(hash);
        }),
      (err: unknown) => asked.forEach((a) => a.reject(err)),
    );
  };
  return {
    node(level, index) {
      const cached = shared.get(`${level}/${index}`);
      if (cached !== undefined) return Promise.resolve(cached);
      return new Promise<Buffer>((resolve, reject) => {
        if (batch.length === 0) queueMicrotask(flush);
        batch.push({ level, index, resolve, reject });
      });
    },
  };
}

/** The root hash of the first `size` leaves; `size` must not exceed the committed tree. */
export async function treeRoot(store: Store, size: number): Promise<Buffer> {
  await requireSize(store, size, 'size');
  return rootAt(size, storeSubtreeSource(store));
}

/** RFC 9162 inclusion proof of leaf `index` (0-based) in the tree of `size` leaves. */
export async function proveInclusion(store: Store, index: number, size: number): Promise<Buffer[]> {
  if (size < 1) throw invalid(`size must be at least 1, got ${size}`);
  if (index < 0 || index >= size) {
    throw invalid(`index must be a leaf of the tree: 0 <= index < size (${size}), got ${index}`);
  }
  const src = storeSubtreeSource(store);
  return sizeChecked(store, size, 'size', src, inclusionProof(index, size, src));
}

/** RFC 9162 consistency proof between the trees of `from` and `to` leaves. */
export async function proveConsistency(store: Store, from: number, to: number): Promise<Buffer[]> {
  if (from < 1) throw invalid(`from must be at least 1, got ${from}`);
  if (from > to) throw invalid(`from (${from}) must not exceed to (${to})`);
  const src = storeSubtreeSource(store);
  return sizeChecked(store, to, 'to', src, consistencyProof(from, to, src));
}

/**
 * Checks that the tree has `size` leaves with the proof's own read: leaf `size - 1` is asked for in the
 * same batch as the proof's nodes (leaves are committed in order, each with its node, so it exists
 * exactly when the tree has that many leaves). One query, one round trip per proof. Only when a read
 * fails is the tree size read, so that a range error wins over the read failure it causes.
 */
async function sizeChecked<T>(
  store: Store,
  size: number,
  name: string,
  src: SubtreeSource,
  work: Promise<T>,
): Promise<T> {
  try {
    const [value] = await Promise.all([work, src.node(0, size - 1)]);
    return value;
  } catch (err) {
    await requireSize(store, size, name);
    throw err;
  }
}

async function requireSize(store: Store, size: number, name: string): Promise<void> {
  const current = await store.auditTreeSize();
  if (size > current) throw invalid(`${name} (${size}) is beyond the current tree size (${current})`);
}

function invalid(message: string): CountersignError {
  return new CountersignError('INVALID_REQUEST', message);
}
