/** A deliberately naive RFC 6962 Merkle Tree Hash over all leaves, to check the store's tree against. */
import { EMPTY_ROOT, leafHash, nodeHash } from '../../src/audit/hash.js';

/** MTH(D[n]) of RFC 6962 §2.1, computed recursively from the leaf hashes. */
export function referenceRoot(leafHashes: Buffer[]): Buffer {
  if (leafHashes.length === 0) return EMPTY_ROOT;
  if (leafHashes.length === 1) return leafHashes[0] as Buffer;
  let k = 1;
  while (k * 2 < leafHashes.length) k *= 2;
  return nodeHash(referenceRoot(leafHashes.slice(0, k)), referenceRoot(leafHashes.slice(k)));
}

export function referenceLeafHashes(leaves: Buffer[]): Buffer[] {
  return leaves.map((l) => leafHash(l));
}

/** The root at `size` from stored perfect subtrees: size's binary decomposition, folded from the right. */
export async function rootFromNodes(
  size: number,
  node: (level: number, idx: number) => Promise<Buffer>,
): Promise<Buffer> {
  if (size === 0) return EMPTY_ROOT;
  const parts: Buffer[] = [];
  let start = 0;
  for (let level = 31; level >= 0; level--) {
    const width = 2 ** level;
    if (size - start >= width) {
      parts.push(await node(level, start / width));
      start += width;
    }
  }
  let root = parts.pop() as Buffer;
  while (parts.length > 0) root = nodeHash(parts.pop() as Buffer, root);
  return root;
}
