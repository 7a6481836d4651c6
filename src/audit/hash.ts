import { createHash, hash } from 'node:crypto';

// RFC 6962 / RFC 9162 §2.1.1: domain-separated hashes, so that a leaf can never pose as an interior node.
const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;

// One-shot `crypto.hash` over one buffer costs about 60% of a `createHash` object fed piece by piece (the
// object and its three calls across into C++ dominate for inputs this small), and the log hashes once per
// event and once per tree node, on the store's one writer. The node input is assembled in this scratch
// buffer: hashing is synchronous, so no two calls ever share it.
const nodeInput = Buffer.alloc(65);

/** SHA-256(0x00 || leaf). */
export function leafHash(leaf: Uint8Array): Buffer {
  const input = Buffer.allocUnsafe(leaf.length + 1);
  input[0] = LEAF_PREFIX;
  input.set(leaf, 1);
  return hash('sha256', input, 'buffer');
}

/** SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length !== 32 || right.length !== 32) {
    return createHash('sha256').update(Buffer.of(NODE_PREFIX)).update(left).update(right).digest();
  }
  nodeInput[0] = NODE_PREFIX;
  nodeInput.set(left, 1);
  nodeInput.set(right, 33);
  return hash('sha256', nodeInput, 'buffer');
}

/** The root of the empty tree: SHA-256 of the empty string. */
export const EMPTY_ROOT: Buffer = createHash('sha256').digest();
