import { isUtf8 } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { readVector, vectorsAvailable } from '../../test/helpers/vectors.js';
import { canonicalJson } from '../core/digest.js';
import { scanCanonicalLine, type CanonicalScan } from './canonical-line.js';
import { syntheticEvent } from './test-log.js';

function scan(text: string | Buffer): CanonicalScan {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const out: CanonicalScan = { canonical: false, seq: Number.NaN };
  scanCanonicalLine(bytes, 0, bytes.length, out);
  // Told that the bytes are valid UTF-8 (when they are), the scan must say the same.
  if (isUtf8(bytes)) {
    const trusted: CanonicalScan = { canonical: false, seq: Number.NaN };
    scanCanonicalLine(bytes, 0, bytes.length, trusted, true);
    expect(trusted).toEqual(out);
  }
  // Within a longer buffer (a line of a batch, followed by its newline and more), likewise.
  const inBatch = Buffer.concat([Buffer.from('x\n'), bytes, Buffer.from('\n"}]x')]);
  const there: CanonicalScan = { canonical: false, seq: Number.NaN };
  scanCanonicalLine(inBatch, 2, 2 + bytes.length, there, isUtf8(bytes));
  expect(there).toEqual(out);
  // And when the bytes after it could close an open string or object: what lies past `stop` never counts.
  const glued = Buffer.concat([bytes, Buffer.from('"}"}]')]);
  const cut: CanonicalScan = { canonical: false, seq: Number.NaN };
  scanCanonicalLine(glued, 0, bytes.length, cut, isUtf8(bytes));
  expect(cut).toEqual(out);
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

describe('scanCanonicalLine on random documents', () => {
  let seed = 987654321;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  const pieces = [
    'a',
    'Z',
    ' ',
    '"',
    '\\',
    '\n',
    '\t',
    '\u0001',
    '\u001f',
    'é',
    '€',
    '🔒',
    '\u2028',
    '/',
    '0',
  ];
  const text = () => Array.from({ length: rand(6) }, () => pieces[rand(pieces.length)]!).join('');
  const keys = ['a', 'b', 'seq', 'A', 'aa', 'é', 'x y', '', '10', '1'];
  const numbers = [0, -0, 1, -1, 7, 1e21, 1e-7, 1.5, -12.25, 123456789012345, 2 ** 53, 0.1, 1e300, 5e-324];
  function value(depth: number): unknown {
    const k = rand(depth > 3 ? 4 : 7);
    if (k === 0) return numbers[rand(numbers.length)];
    if (k === 1) return text();
    if (k === 2) return [true, false, null][rand(3)];
    if (k === 3) return rand(1000) - 500;
    if (k === 4) return Array.from({ length: rand(4) }, () => value(depth + 1));
    return object(depth + 1);
  }
  function object(depth: number): Record<string, unknown> {
    const o: Record<string, unknown> = {};
    for (let i = rand(5); i > 0; i--) o[keys[rand(keys.length)]!] = value(depth);
    return o;
  }

  it('accepts canonical documents it can be sure of, and never a line whose JCS form differs', () => {
    let accepted = 0;
    for (let i = 0; i < 2000; i++) {
      const line = canonicalJson(object(0));
      const r = scan(line);
      // Declining is allowed only where the fast path is documented to decline.
      const mustAccept = !/\\u|\\\//.test(line) && !/"[^"]*[\u0080-\uffff][^"]*":/.test(line);
      if (mustAccept) expect(r.canonical, line).toBe(true);
      if (r.canonical) accepted++;
      for (let m = 0; m < 5; m++) {
        const at = rand(line.length + 1);
        const ch = ' {}[]",:\\0-1eE.tfnu\u00e9'[rand(22)]!;
        const mutated = line.slice(0, at) + ch + line.slice(at + rand(2));
        // (A cut surrogate pair has no UTF-8 form: the bytes would not be this text.)
        if (Buffer.from(mutated).toString() === mutated) agreesWithReference(mutated);
      }
    }
    expect(accepted).toBeGreaterThan(500);
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
