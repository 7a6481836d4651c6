import { hash } from 'node:crypto';
import { EMPTY_ROOT } from './hash.js';

/**
 * Fast, synchronous RFC 9162 hashing for offline verification of whole exports.
 *
 * The hashes are the same as `leafHash`/`nodeHash` in hash.ts; these use the one-shot `crypto.hash`
 * and a reused scratch buffer because a `createHash` object per hash costs about twice as much, and a
 * full verification computes 2n - 1 of them.
 */
const NODE_INPUT = Buffer.alloc(65);
let leafInput = Buffer.alloc(64 * 1024);

/** SHA-256(0x01 || left || right) for two 32-byte hashes. */
export function fastNodeHash(left: Buffer, right: Buffer): Buffer {
  NODE_INPUT[0] = 0x01;
  left.copy(NODE_INPUT, 1, 0, 32);
  right.copy(NODE_INPUT, 33, 0, 32);
  return hash('sha256', NODE_INPUT, 'buffer');
}

/** SHA-256(0x00 || bytes[start, end)). */
export function fastLeafHash(bytes: Uint8Array, start = 0, end = bytes.length): Buffer {
  const length = end - start;
  if (leafInput.length < length + 1) leafInput = Buffer.alloc(Math.max(length + 1, leafInput.length * 2));
  leafInput[0] = 0x00;
  leafInput.set(bytes.subarray(start, end), 1);
  return hash('sha256', leafInput.subarray(0, length + 1), 'buffer');
}

/**
 * Streams leaf hashes into an RFC 9162 tree and gives the root at any size.
 *
 * It keeps only the roots of the perfect subtrees the leaves so far decompose into (one per 1-bit
 * of `size`, largest first), so memory is O(log n) and an append costs one leaf's worth of merges
 * (amortised one node hash). The root folds that stack from the right: O(log n) hashes.
 */
export class TreeBuilder {
  #stack: Buffer[] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  append(leafHash: Buffer): void {
    let merged = leafHash;
    // Each trailing 1-bit of the old size is a perfect subtree of the new leaf's height: merge it in.
    // (Arithmetic, not bit operators: sizes can exceed 2^32.)
    for (let s = this.#size; s % 2 === 1; s = (s - 1) / 2) merged = fastNodeHash(this.#stack.pop()!, merged);
    this.#stack.push(merged);
    this.#size += 1;
  }

  root(): Buffer {
    const stack = this.#stack;
    if (stack.length === 0) return EMPTY_ROOT;
    let root = stack[stack.length - 1]!;
    for (let i = stack.length - 2; i >= 0; i--) root = fastNodeHash(stack[i]!, root);
    return root;
  }
}

/** The root of a list of leaf hashes (MTH of RFC 9162 §2.1.1). */
export function rootOf(leafHashes: readonly Buffer[]): Buffer {
  const tree = new TreeBuilder();
  for (const h of leafHashes) tree.append(h);
  return tree.root();
}
