import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EMPTY_ROOT, leafHash, nodeHash } from './hash.js';

const sha256 = (...parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

describe('RFC 6962 hashes', () => {
  it('leafHash is SHA-256(0x00 || leaf) for any length', () => {
    for (const n of [0, 1, 31, 32, 33, 1000]) {
      const leaf = randomBytes(n);
      expect(leafHash(leaf).equals(sha256(Buffer.of(0), leaf))).toBe(true);
    }
  });

  it('nodeHash is SHA-256(0x01 || left || right), for 32-byte hashes and any other lengths', () => {
    for (const [l, r] of [
      [32, 32],
      [0, 32],
      [31, 33],
      [64, 1],
    ] as const) {
      const left = randomBytes(l);
      const right = randomBytes(r);
      expect(nodeHash(left, right).equals(sha256(Buffer.of(1), left, right))).toBe(true);
    }
  });

  it('a hash returned earlier is not changed by later calls (no shared buffer leaks out)', () => {
    const a = [randomBytes(32), randomBytes(32)] as const;
    const first = nodeHash(...a);
    const copy = Buffer.from(first);
    nodeHash(randomBytes(32), randomBytes(32));
    leafHash(randomBytes(40));
    expect(first.equals(copy)).toBe(true);
  });

  it('the empty root is SHA-256 of nothing', () => {
    expect(EMPTY_ROOT.toString('hex')).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });
});
