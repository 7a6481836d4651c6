import { describe, expect, it } from 'vitest';
import { readVector, vectorsAvailable } from '../../test/helpers/vectors.js';
import { canonicalJson } from '../core/digest.js';
import { scanCanonicalLine, type CanonicalScan } from './canonical-line.js';
import { syntheticEvent } from './test-log.js';

function scan(text: string | Buffer): CanonicalScan {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const out: CanonicalScan = { canonical: false, seq: Number.NaN };
  scanCanonicalLine(bytes, 0, bytes.length, out);
  return out;
}

/** The property that matters: it never says "canonical" unless the bytes are the JCS form. */
function agreesWithReference(text: string): void {
  let reference: string | null = null;
  try {
    const v: unknown = JSON.parse(text);
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) reference = canonicalJson(v);
  } catch {
    reference = null;
  }
  if (scan(text).canonical) expect(reference, text).toBe(text);
}

describe('scanCanonicalLine', () => {
  it('accepts canonical events and reads their seq', () => {
    for (let seq = 1; seq < 50; seq++) {
      const line = canonicalJson(syntheticEvent(seq));
      expect(scan(line)).toEqual({ canonical: true, seq });
    }
  });

  it.each([
    ['whitespace', '{"a": 1}'],
    ['unsorted keys', '{"b":1,"a":2}'],
    ['duplicate keys', '{"a":1,"a":2}'],
    ['a non-canonical number', '{"a":1.0}'],
    ['an exponent', '{"a":1e3}'],
    ['minus zero', '{"a":-0}'],
    ['a leading zero', '{"a":01}'],
    ['a big integer', '{"a":12345678901234567890}'],
    ['an escaped slash', '{"a":"\\/"}'],
    ['a \\u escape', '{"a":"\\u00e9"}'],
    ['a lone surrogate escape', '{"a":"\\ud800"}'],
    ['a raw control character', '{"a":"\u0001"}'],
    ['an array at the top', '[1]'],
    ['trailing garbage', '{"a":1}x'],
    ['a truncated line', '{"a":'],
    ['a non-ASCII key', '{"é":1}'],
  ])('declines %s', (_why, text) => {
    expect(scan(text).canonical).toBe(false);
    agreesWithReference(text);
  });

  it('declines invalid UTF-8 (overlong, surrogate, truncated)', () => {
    for (const hex of ['c0af', 'eda080', 'e282', 'f4908080', 'ff'])
      expect(
        scan(Buffer.concat([Buffer.from('{"a":"'), Buffer.from(hex, 'hex'), Buffer.from('"}')])).canonical,
      ).toBe(false);
  });

  it('accepts canonical numbers, escapes and non-ASCII text', () => {
    for (const text of [
      '{"a":1e+21,"b":1.5e-7,"c":-12.25,"d":0,"e":[true,false,null,{}],"f":"\\"\\\\\\n\\t é 🔒 \u2028"}',
    ])
      expect(scan(text).canonical).toBe(true);
  });

  it('agrees with the reference canonicaliser on mutated lines', () => {
    const base = canonicalJson({ ...syntheticEvent(7), extra: { n: [1, 2.5, -3e-7, 'x\\"y'], s: 'ü' } });
    let seed = 12345;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const alphabet = '{}[]":,.-+eE0123456789 \\/u\u00e9abtnrf';
    for (let i = 0; i < 3000; i++) {
      const at = rand(base.length);
      const op = rand(3);
      const ch = alphabet[rand(alphabet.length)]!;
      const text =
        op === 0
          ? base.slice(0, at) + base.slice(at + 1)
          : op === 1
            ? base.slice(0, at) + ch + base.slice(at)
            : base.slice(0, at) + ch + base.slice(at + 1);
      agreesWithReference(text);
    }
  });
});

interface JcsCase {
  name: string;
  input: string;
  expected: string;
}

describe.skipIf(!vectorsAvailable('tlog/jcs.json'))('JCS vectors', () => {
  const v = readVector<{ canonicalization_cases: JcsCase[] }>('tlog/jcs.json');
  it.each(v.canonicalization_cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    // The expected bytes are canonical; the fast path accepts them when they are an object, or declines.
    const r = scan(c.expected);
    if (c.expected.startsWith('{')) agreesWithReference(c.expected);
    expect(r.canonical === false || c.expected.startsWith('{')).toBe(true);
    expect(scan(c.input).canonical).toBe(c.input === c.expected);
  });
});
