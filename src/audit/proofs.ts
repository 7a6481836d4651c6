/**
 * RFC 9162 §2.1 Merkle tree math over a source of perfect subtree hashes.
 *
 * A store keeps the hash of every perfect subtree (level L, index i = leaves [i·2^L, (i+1)·2^L));
 * every other MTH splits at the largest power of two below its length into perfect subtrees.
 * Read counts, for a tree of n leaves (log = ⌈log2 n⌉):
 *  - rootAt(n): popcount(n) reads, at most log;
 *  - inclusionProof: one read per proof element, except the single non-perfect right sibling (at most
 *    one per proof) which costs popcount of its length: at most 2·log reads in all;
 *  - consistencyProof: likewise at most 2·log + 1 reads.
 * Reads of one call are issued together (Promise.all), so a store can batch them.
 */
import { EMPTY_ROOT, nodeHash } from './hash.js';

export interface SubtreeSource {
  /** MTH of leaves [index*2^level, (index+1)*2^level), which must all exist. */
  node(level: number, index: number): Promise<Buffer>;
}

const HASH_SIZE = 32;

const isSize = (n: number) => Number.isSafeInteger(n) && n >= 0;

/** The largest power of two strictly below n (n >= 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

const isPowerOfTwo = (n: number) => n === 1 || (n > 1 && splitPoint(n) * 2 === n);

const log2 = (n: number) => Math.round(Math.log2(n));

/** MTH(D[start, start+n)); start is aligned as the RFC's recursion aligns it. */
async function mth(start: number, n: number, src: SubtreeSource): Promise<Buffer> {
  if (n === 0) return EMPTY_ROOT;
  // Decompose into perfect subtrees, largest first, then fold from the right.
  const parts: Promise<Buffer>[] = [];
  let offset = start;
  let rest = n;
  while (rest > 0) {
    const size = isPowerOfTwo(rest) ? rest : splitPoint(rest);
    parts.push(src.node(log2(size), offset / size));
    offset += size;
    rest -= size;
  }
  const hashes = await Promise.all(parts);
  let root = hashes[hashes.length - 1]!;
  for (let i = hashes.length - 2; i >= 0; i--) root = nodeHash(hashes[i]!, root);
  return root;
}

/** The root of the first `size` leaves; EMPTY_ROOT for 0. */
export async function rootAt(size: number, src: SubtreeSource): Promise<Buffer> {
  if (!isSize(size)) throw new RangeError(`tree size must be a non-negative integer, got ${size}`);
  return mth(0, size, src);
}

/** PATH(index, D[size]) of RFC 9162 §2.1.3.1, leaf to root. */
export async function inclusionProof(index: number, size: number, src: SubtreeSource): Promise<Buffer[]> {
  if (!isSize(size) || !isSize(index) || index >= size) {
    throw new RangeError(`leaf index ${index} is not in a tree of size ${size}`);
  }
  // Walk root to leaf, collecting siblings; the proof lists them leaf to root.
  const siblings: Promise<Buffer>[] = [];
  let start = 0;
  let n = size;
  let m = index;
  while (n > 1) {
    const k = splitPoint(n);
    if (m < k) {
      siblings.push(mth(start + k, n - k, src));
      n = k;
    } else {
      siblings.push(mth(start, k, src));
      start += k;
      m -= k;
      n -= k;
    }
  }
  return (await Promise.all(siblings)).reverse();
}

/** PROOF(from, D[to]) of RFC 9162 §2.1.4.1: empty when from = to; from must be > 0. */
export async function consistencyProof(from: number, to: number, src: SubtreeSource): Promise<Buffer[]> {
  if (!isSize(from) || !isSize(to) || from < 1 || from > to) {
    throw new RangeError(`no consistency proof from size ${from} to size ${to}: need 0 < from <= to`);
  }
  const parts: Promise<Buffer>[] = [];
  let start = 0;
  let n = to;
  let m = from;
  let complete = true; // the RFC's b: whether the subtree D[0:m] is a complete subtree of the old tree
  while (m !== n) {
    const k = splitPoint(n);
    if (m <= k) {
      parts.push(mth(start + k, n - k, src));
      n = k;
    } else {
      parts.push(mth(start, k, src));
      start += k;
      m -= k;
      n -= k;
      complete = false;
    }
  }
  if (!complete) parts.push(mth(start, m, src));
  return (await Promise.all(parts)).reverse();
}

const isHash = (b: Buffer) => b.length === HASH_SIZE;

/** RFC 9162 §2.1.3.2. */
export function verifyInclusion(
  leafHash: Buffer,
  index: number,
  size: number,
  proof: Buffer[],
  root: Buffer,
): boolean {
  if (!isSize(index) || !isSize(size) || index >= size) return false;
  if (!isHash(leafHash) || !proof.every(isHash)) return false;
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn /= 2;
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(root);
}

/**
 * RFC 9162 §2.1.4.2. Equal sizes need an empty proof and equal roots. A proof from the empty tree
 * proves nothing (every tree extends it), so size 0 is refused, as transparency-dev/merkle does.
 */
export function verifyConsistency(
  from: number,
  to: number,
  proof: Buffer[],
  fromRoot: Buffer,
  toRoot: Buffer,
): boolean {
  if (!isSize(from) || !isSize(to) || from > to || from === 0) return false;
  if (from === to) return proof.length === 0 && fromRoot.equals(toRoot);
  if (proof.length === 0 || !proof.every(isHash)) return false;
  const path = isPowerOfTwo(from) ? [fromRoot, ...proof] : proof;
  let fn = from - 1;
  let sn = to - 1;
  while (fn % 2 === 1) {
    fn = (fn - 1) / 2;
    sn = Math.floor(sn / 2);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn /= 2;
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && fr.equals(fromRoot) && sr.equals(toRoot);
}

/** A SubtreeSource over leaf hashes held in memory: for tests and offline tools. */
export function memorySource(leafHashes: Buffer[]): SubtreeSource {
  const levels: Buffer[][] = [leafHashes.slice()];
  // Build every perfect subtree level once: O(n) hashes, O(n) memory.
  for (let level = levels[0]!; level.length > 1;) {
    const next: Buffer[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(nodeHash(level[i]!, level[i + 1]!));
    levels.push(next);
    level = next;
  }
  return {
    async node(level: number, index: number): Promise<Buffer> {
      const h = levels[level]?.[index];
      if (!h) throw new RangeError(`no perfect subtree at level ${level}, index ${index}`);
      return h;
    },
  };
}
