import canonicalizeReference from 'canonicalize';
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

describe('canonicalJson', () => {
  // The reference implementation it replaced on the hot path; the output must stay byte for byte the same.
  const reference = canonicalizeReference;

  /** A deterministic pseudo-random JSON value (strings with escapes, astral characters, numbers of every form). */
  function generate(seed: number): unknown {
    let s = seed;
    const rnd = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const strings = ['', 'a', 'é', '\u0000\u001f"\\/\b\f\n\r\t', '😀x', '\u2028\u2029', 'ü\u00ff\u0100', '€'];
    const numbers = [
      0, -0, 1, -1, 1.5, 1e21, 1e-7, 123456789012345680000, 5e-324, 1.7976931348623157e308, 0.1,
    ];
    const value = (depth: number): unknown => {
      const r = rnd();
      if (depth > 3 || r < 0.3) {
        const k = Math.floor(rnd() * 5);
        if (k === 0) return strings[Math.floor(rnd() * strings.length)];
        if (k === 1) return numbers[Math.floor(rnd() * numbers.length)];
        if (k === 2) return rnd() < 0.5;
        if (k === 3) return null;
        return `${strings[Math.floor(rnd() * strings.length)]}${Math.floor(rnd() * 1000)}`;
      }
      if (r < 0.6) return Array.from({ length: Math.floor(rnd() * 4) }, () => value(depth + 1));
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(rnd() * 5); i > 0; i--) {
        o[`${strings[Math.floor(rnd() * strings.length)]}${Math.floor(rnd() * 3)}`] = value(depth + 1);
      }
      if (rnd() < 0.2) o.skipped = undefined;
      return o;
    };
    return value(0);
  }

  it('writes exactly what the canonicalize package writes', () => {
    for (let seed = 1; seed <= 2000; seed++) {
      const v = generate(seed);
      expect(canonicalJson(v), JSON.stringify(v)).toBe(reference(v));
    }
    const withToJson = { at: new Date(0), nested: { toJSON: () => ({ b: 1, a: [2] }) } };
    expect(canonicalJson(withToJson)).toBe(reference(withToJson));
  });

  it('refuses what JSON cannot represent faithfully', () => {
    expect(() => canonicalJson(NaN)).toThrow(/NaN/);
    expect(() => canonicalJson({ a: [Infinity] })).toThrow(/Infinity/);
    expect(() => canonicalJson({ a: 'x\uD800' })).toThrow(/surrogate/);
    expect(() => canonicalJson({ ['\uDC00']: 1 })).toThrow(/surrogate/);
    expect(() => canonicalJson({ a: 1n })).toThrow(TypeError);
    expect(() => canonicalJson(undefined)).toThrow(TypeError);
    const cycle: Record<string, unknown> = {};
    cycle.self = { again: cycle };
    expect(() => canonicalJson(cycle)).toThrow(/Circular/);
    // The same object twice, not in a cycle, is fine.
    const shared = { x: 1 };
    expect(canonicalJson({ a: shared, b: [shared] })).toBe('{"a":{"x":1},"b":[{"x":1}]}');
  });
});
