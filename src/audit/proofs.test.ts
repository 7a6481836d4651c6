import { describe, expect, it } from 'vitest';
import { readVector, vectorsAvailable } from '../../test/helpers/vectors.js';
import { EMPTY_ROOT, leafHash, nodeHash } from './hash.js';
import { TreeBuilder, fastLeafHash, fastNodeHash, rootOf } from './merkle.js';
import {
  consistencyProof,
  inclusionProof,
  memorySource,
  rootAt,
  verifyConsistency,
  verifyInclusion,
  type SubtreeSource,
} from './proofs.js';

const hex = (s: string) => Buffer.from(s, 'hex');
const b64 = (s: string | null | undefined) => Buffer.from(s ?? '', 'base64');

interface TreeVector {
  leaf_inputs_hex: string[];
  node_hashes_hex_by_level: string[][];
  root_hashes_hex_by_size: string[];
  hasher: Record<string, string>;
  sumdb_record_hash: { data: string; leaf_hash_b64: string };
}
interface InclusionProbe {
  leafIdx: number;
  treeSize: number;
  root: string | null;
  leafHash: string | null;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
  file: string;
}
interface ConsistencyProbe {
  size1: number;
  size2: number;
  root1: string | null;
  root2: string | null;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
  file: string;
}

const leaves = (n: number) => Array.from({ length: n }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)));

/** The RFC's recursive MTH, written plainly, as the reference the fast code is checked against. */
function mth(hs: Buffer[]): Buffer {
  if (hs.length === 0) return EMPTY_ROOT;
  if (hs.length === 1) return hs[0]!;
  let k = 1;
  while (k * 2 < hs.length) k *= 2;
  return nodeHash(mth(hs.slice(0, k)), mth(hs.slice(k)));
}

/** Counts reads, to hold the O(log n) promise. */
function counting(src: SubtreeSource) {
  const c = { reads: 0, src: { node: (l: number, i: number) => (c.reads++, src.node(l, i)) } };
  return c;
}

describe.skipIf(!vectorsAvailable('tlog/rfc6962_tree.json'))('RFC 6962 tree vectors', () => {
  const v = readVector<TreeVector>('tlog/rfc6962_tree.json');
  const hs = v.leaf_inputs_hex.map((l) => leafHash(hex(l)));

  it('hashes leaves and nodes as the RFC does', () => {
    expect(EMPTY_ROOT.toString('hex')).toBe(v.hasher.empty_root_hex);
    expect(leafHash(Buffer.alloc(0)).toString('hex')).toBe(v.hasher.empty_leaf_hash_hex);
    expect(leafHash(Buffer.from('L123456')).toString('hex')).toBe(v.hasher.leaf_L123456_hex);
    expect(nodeHash(Buffer.from('N123'), Buffer.from('N456')).toString('hex')).toBe(
      v.hasher.node_N123_N456_hex,
    );
    expect(fastLeafHash(Buffer.from('L123456')).toString('hex')).toBe(v.hasher.leaf_L123456_hex);
    expect(leafHash(Buffer.from(v.sumdb_record_hash.data)).toString('base64')).toBe(
      v.sumdb_record_hash.leaf_hash_b64,
    );
  });

  it('gives every published root, by TreeBuilder, rootAt and the reference MTH', async () => {
    const src = memorySource(hs);
    for (let size = 0; size <= 8; size++) {
      const want = v.root_hashes_hex_by_size[size];
      expect(rootOf(hs.slice(0, size)).toString('hex')).toBe(want);
      expect((await rootAt(size, src)).toString('hex')).toBe(want);
      expect(mth(hs.slice(0, size)).toString('hex')).toBe(want);
    }
  });

  it('gives every published perfect subtree hash', async () => {
    const src = memorySource(hs);
    for (const [level, hashes] of v.node_hashes_hex_by_level.entries())
      for (const [index, want] of hashes.entries())
        expect((await src.node(level, index)).toString('hex')).toBe(want);
  });
});

describe.skipIf(!vectorsAvailable('tlog/merkle_inclusion_probes.json'))('inclusion probes', () => {
  const { probes } = readVector<{ probes: InclusionProbe[] }>('tlog/merkle_inclusion_probes.json');
  it.each(probes.map((p) => [p.file, p] as const))('%s', (_file, p) => {
    const ok = verifyInclusion(b64(p.leafHash), p.leafIdx, p.treeSize, (p.proof ?? []).map(b64), b64(p.root));
    expect(ok).toBe(!p.wantErr);
  });
});

describe.skipIf(!vectorsAvailable('tlog/merkle_consistency_probes.json'))('consistency probes', () => {
  const { probes } = readVector<{ probes: ConsistencyProbe[] }>('tlog/merkle_consistency_probes.json');
  it.each(probes.map((p) => [p.file, p] as const))('%s', (_file, p) => {
    const ok = verifyConsistency(p.size1, p.size2, (p.proof ?? []).map(b64), b64(p.root1), b64(p.root2));
    expect(ok).toBe(!p.wantErr);
  });
});

describe('proofs over a subtree source', () => {
  const hs = leaves(70);
  const src = memorySource(hs);

  it('TreeBuilder matches the reference MTH at every size', () => {
    const tree = new TreeBuilder();
    for (let n = 0; n <= hs.length; n++) {
      expect(tree.size).toBe(n);
      expect(tree.root().equals(mth(hs.slice(0, n)))).toBe(true);
      if (n < hs.length) tree.append(hs[n]!);
    }
    expect(fastNodeHash(hs[0]!, hs[1]!).equals(nodeHash(hs[0]!, hs[1]!))).toBe(true);
  });

  it('inclusion proofs verify for every leaf of every size, and fail for a wrong leaf or root', async () => {
    for (let size = 1; size <= hs.length; size++) {
      const root = await rootAt(size, src);
      expect(root.equals(mth(hs.slice(0, size)))).toBe(true);
      for (let i = 0; i < size; i++) {
        const proof = await inclusionProof(i, size, src);
        expect(verifyInclusion(hs[i]!, i, size, proof, root)).toBe(true);
        expect(verifyInclusion(hs[(i + 1) % hs.length]!, i, size, proof, root)).toBe(false);
        if (size > 1) expect(verifyInclusion(hs[i]!, i, size, proof, hs[0]!)).toBe(false);
      }
    }
  });

  it('consistency proofs verify for every pair of sizes, and fail for a wrong old root', async () => {
    for (let to = 1; to <= hs.length; to++) {
      const toRoot = await rootAt(to, src);
      for (let from = 1; from <= to; from++) {
        const fromRoot = await rootAt(from, src);
        const proof = await consistencyProof(from, to, src);
        expect(verifyConsistency(from, to, proof, fromRoot, toRoot)).toBe(true);
        if (from < to) expect(verifyConsistency(from, to, proof, hs[0]!.subarray(), EMPTY_ROOT)).toBe(false);
      }
    }
  });

  it('reads O(log n) subtrees at ten million leaves', async () => {
    const size = 10_000_000 - 1; // many 1-bits: the worst case for splitting
    const fake: SubtreeSource = { node: async (l, i) => leafHash(Buffer.from(`${l}/${i}`)) };
    const log = Math.ceil(Math.log2(size));
    const c1 = counting(fake);
    await rootAt(size, c1.src);
    expect(c1.reads).toBeLessThanOrEqual(log);
    const c2 = counting(fake);
    await inclusionProof(1234, size, c2.src);
    expect(c2.reads).toBeLessThanOrEqual(2 * log);
    const c3 = counting(fake);
    await consistencyProof(3_333_333, size, c3.src);
    expect(c3.reads).toBeLessThanOrEqual(2 * log + 1);
  });

  it('refuses impossible arguments', async () => {
    await expect(inclusionProof(5, 5, src)).rejects.toThrow(RangeError);
    await expect(consistencyProof(0, 5, src)).rejects.toThrow(RangeError);
    await expect(consistencyProof(6, 5, src)).rejects.toThrow(RangeError);
    expect(await consistencyProof(5, 5, src)).toEqual([]);
    expect(await rootAt(0, src)).toEqual(EMPTY_ROOT);
  });
});
