import { hash } from 'node:crypto';
import { EMPTY_ROOT } from './hash.js';

/**
 * Fast, synchronous RFC 9162 hashing for offline verification of whole exports.
 *
 * The hashes are the same as `leafHash`/`nodeHash` in hash.ts. A full verification computes 2n - 1
 * of them, and on Node 20 the fixed cost of a call dominates the SHA-256 work for inputs this small:
 *  - the one-shot `crypto.hash` costs about half of a `createHash().update().digest()` object;
 *  - `crypto.hash` with a `'latin1'` output (a 32-character one-byte string) costs about half of
 *    the same call with a `'buffer'` output (a Buffer and its ArrayBuffer per hash): ~0.3 µs against
 *    ~0.7 µs for a node hash here. So the hot path keeps hashes as latin1 strings ("binary strings":
 *    one character per byte) and turns them into Buffers only at the edges.
 */
const NODE_INPUT = Buffer.alloc(65);
let leafInput = Buffer.alloc(64 * 1024);

/** A hash as a binary string (one latin1 character per byte). */
export type HashString = string;

export const toHashString = (h: Uint8Array): HashString =>
  Buffer.from(h.buffer, h.byteOffset, h.byteLength).toString('latin1');
export const fromHashString = (h: HashString): Buffer => Buffer.from(h, 'latin1');

/** SHA-256(0x01 || left || right) of two binary-string hashes. */
export function nodeHashString(left: HashString, right: HashString): HashString {
  NODE_INPUT[0] = 0x01;
  NODE_INPUT.write(left, 1, 32, 'latin1');
  NODE_INPUT.write(right, 33, 32, 'latin1');
  return hash('sha256', NODE_INPUT, 'binary');
}

/** SHA-256(0x00 || bytes[start, end)) as a binary string; copies the bytes once. */
export function leafHashString(bytes: Uint8Array, start = 0, end = bytes.length): HashString {
  const length = end - start;
  if (leafInput.length < length + 1) leafInput = Buffer.alloc(Math.max(length + 1, leafInput.length * 2));
  leafInput[0] = 0x00;
  leafInput.set(bytes.subarray(start, end), 1);
  return hash('sha256', leafInput.subarray(0, length + 1), 'binary');
}

/**
 * SHA-256(0x00 || bytes[start, end)) without copying the line: the byte at start - 1 (which must
 * exist: a separator or scratch byte the caller owns) is set to 0x00 for the call and restored.
 */
export function leafHashInPlace(bytes: Buffer, start: number, end: number): HashString {
  const before = bytes[start - 1]!;
  bytes[start - 1] = 0x00;
  const h = hash('sha256', bytes.subarray(start - 1, end), 'binary');
  bytes[start - 1] = before;
  return h;
}

/** SHA-256(0x01 || left || right) for two 32-byte hashes. */
export function fastNodeHash(left: Buffer, right: Buffer): Buffer {
  NODE_INPUT[0] = 0x01;
  left.copy(NODE_INPUT, 1, 0, 32);
  right.copy(NODE_INPUT, 33, 0, 32);
  return hash('sha256', NODE_INPUT, 'buffer');
}

/** SHA-256(0x00 || bytes[start, end)). */
export function fastLeafHash(bytes: Uint8Array, start = 0, end = bytes.length): Buffer {
  return fromHashString(leafHashString(bytes, start, end));
}

const EMPTY_ROOT_STRING = toHashString(EMPTY_ROOT);

/**
 * Streams leaf hashes into an RFC 9162 tree and gives the root at any size.
 *
 * It keeps only the roots of the perfect subtrees the leaves so far decompose into (one per 1-bit
 * of `size`, largest first), so memory is O(log n) and an append costs one leaf's worth of merges
 * (amortised one node hash). The root folds that stack from the right: O(log n) hashes.
 */
export class TreeBuilder {
  #stack: HashString[] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  append(leafHash: Buffer): void {
    this.appendString(toHashString(leafHash));
  }

  /** append() for a binary-string leaf hash: the verifier's hot path. */
  appendString(leafHash: HashString): void {
    let merged = leafHash;
    // Each trailing 1-bit of the old size is a perfect subtree of the new leaf's height: merge it in.
    // (Arithmetic, not bit operators: sizes can exceed 2^32.)
    for (let s = this.#size; s % 2 === 1; s = (s - 1) / 2)
      merged = nodeHashString(this.#stack.pop()!, merged);
    this.#stack.push(merged);
    this.#size += 1;
  }

  /**
   * Appends a whole perfect subtree of 2^level leaves, given its root. The tree's size must be a
   * multiple of 2^level, so that the subtree is one of the RFC's perfect subtrees of the larger tree.
   */
  appendSubtree(root: HashString, level: number): void {
    const leaves = 2 ** level;
    if (this.#size % leaves !== 0) {
      throw new RangeError(`a subtree of ${leaves} leaves cannot start at leaf ${this.#size}`);
    }
    let merged = root;
    for (let s = this.#size / leaves; s % 2 === 1; s = (s - 1) / 2)
      merged = nodeHashString(this.#stack.pop()!, merged);
    this.#stack.push(merged);
    this.#size += leaves;
  }

  /** The roots of the perfect subtrees the tree decomposes into, largest (leftmost) first. */
  stack(): HashString[] {
    return this.#stack.slice();
  }

  root(): Buffer {
    return fromHashString(this.rootString());
  }

  /**
   * The root of this tree followed by more leaves whose perfect subtrees are `more` (largest first,
   * each smaller than the smallest of this tree's, as a TreeBuilder that started at this size has).
   */
  rootString(more: readonly HashString[] = []): HashString {
    const stack = more.length === 0 ? this.#stack : [...this.#stack, ...more];
    if (stack.length === 0) return EMPTY_ROOT_STRING;
    let root = stack[stack.length - 1]!;
    for (let i = stack.length - 2; i >= 0; i--) root = nodeHashString(stack[i]!, root);
    return root;
  }
}

/** The root of a list of leaf hashes (MTH of RFC 9162 §2.1.1). */
export function rootOf(leafHashes: readonly Buffer[]): Buffer {
  const tree = new TreeBuilder();
  for (const h of leafHashes) tree.append(h);
  return tree.root();
}
