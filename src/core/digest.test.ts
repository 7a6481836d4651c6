import { describe, expect, it } from 'vitest';
import { readVector, vectorsAvailable } from '../../test/helpers/vectors.js';
import { actionDigest, canonicalJson } from './digest.js';

interface JcsVectors {
  canonicalization_cases: { name: string; input: string; expected_utf8_hex: string }[];
  rfc8785_appendix_b: { ieee_hex: string; expected: string; comment: string }[];
}

const haveJcs = vectorsAvailable('tlog/jcs.json');

describe.skipIf(!haveJcs)('RFC 8785 (JCS) with the published vectors', () => {
  const v = haveJcs ? readVector<JcsVectors>('tlog/jcs.json') : null;

  it('canonicalises every published case byte for byte', () => {
    expect(v?.canonicalization_cases.length).toBeGreaterThan(0);
    for (const c of v?.canonicalization_cases ?? []) {
      const out = Buffer.from(canonicalJson(JSON.parse(c.input)), 'utf8').toString('hex');
      expect(out, c.name).toBe(c.expected_utf8_hex);
    }
  });

  it('serialises the numbers of RFC 8785 Appendix B', () => {
    for (const n of v?.rfc8785_appendix_b ?? []) {
      const value = Buffer.from(n.ieee_hex, 'hex').readDoubleBE(0);
      if (!Number.isFinite(value)) continue; // NaN and Infinity are not JSON: the RFC lists them as errors
      expect(canonicalJson(value), n.comment).toBe(n.expected);
    }
  });
});

describe('action digest', () => {
  const base = {
    action: 'service.restart',
    resource: 'k8s://prod/deploy/api',
    environment: 'production',
    parameters: { b: 1, a: [1, 2] },
  };

  it('is sha256: + hex of the JCS form of {action, resource, environment, parameters}', () => {
    expect(actionDigest(base)).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('ignores key order but changes with one byte of content', () => {
    const reordered = { ...base, parameters: { a: [1, 2], b: 1 } };
    expect(actionDigest(reordered)).toBe(actionDigest(base));
    expect(actionDigest({ ...base, parameters: { b: 2, a: [1, 2] } })).not.toBe(actionDigest(base));
    expect(actionDigest({ ...base, environment: 'productioN' })).not.toBe(actionDigest(base));
  });

  it('binds only the four fields: reason and context do not change it', () => {
    const withExtra = { ...base, reason: 'x', context: { run: 1 } } as typeof base;
    expect(actionDigest(withExtra)).toBe(actionDigest(base));
  });
});
