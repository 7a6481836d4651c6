/**
 * A fast check that an export line is already the RFC 8785 (JCS) form of the object it holds, so
 * its bytes are the leaf as they are: no JSON.parse, no re-serialisation, no UTF-8 re-encoding.
 * Verifying an export is dominated by this per-line work, and our own exports are canonical.
 *
 * It is deliberately conservative: whatever it is not sure of (a `\u` escape, a non-ASCII or escaped
 * key, duplicate keys, deep nesting) returns false and the caller falls back to JSON.parse plus the
 * reference canonicaliser. It never returns true for a line whose JCS form differs from its bytes.
 */
let b: Uint8Array = new Uint8Array(0);
let p = 0;
let end = 0;
let seqText: [number, number] | null = null;

const MAX_DEPTH = 64;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export interface CanonicalScan {
  /** The line's bytes are exactly the JCS form of a JSON object. */
  canonical: boolean;
  /** Its top-level `seq` when that is a number (NaN when absent or not a number). */
  seq: number;
}

/** Scans bytes[start, stop) (no newline). */
export function scanCanonicalLine(bytes: Uint8Array, start: number, stop: number, out: CanonicalScan): void {
  b = bytes;
  p = start;
  end = stop;
  seqText = null;
  out.canonical = p < end && b[p] === 0x7b && value(0) && p === end;
  out.seq = out.canonical && seqText ? Number(latin1(seqText[0], seqText[1])) : Number.NaN;
}

function latin1(from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += String.fromCharCode(b[i]!);
  return s;
}

function value(depth: number): boolean {
  if (p >= end) return false;
  const c = b[p]!;
  if (c === QUOTE) return string(false);
  if (c === 0x7b) return object(depth + 1);
  if (c === 0x5b) return array(depth + 1);
  if (c === 0x74) return literal('true');
  if (c === 0x66) return literal('false');
  if (c === 0x6e) return literal('null');
  if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return number();
  return false;
}

function literal(word: string): boolean {
  if (p + word.length > end) return false;
  for (let i = 0; i < word.length; i++) if (b[p + i] !== word.charCodeAt(i)) return false;
  p += word.length;
  return true;
}

function number(): boolean {
  const start = p;
  let simple = true; // -?[1-9][0-9]* or 0
  while (p < end) {
    const c = b[p]!;
    if (c >= 0x30 && c <= 0x39) p++;
    else if (c === 0x2d || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45) {
      if (!(c === 0x2d && p === start)) simple = false;
      p++;
    } else break;
  }
  const digitsFrom = b[start] === 0x2d ? start + 1 : start;
  const digits = p - digitsFrom;
  if (simple && digits >= 1 && digits <= 15) {
    // Integers below 10^15 print as themselves, except leading zeros and minus zero.
    if (b[digitsFrom] !== 0x30) return true;
    return digits === 1 && digitsFrom === start;
  }
  const text = latin1(start, p);
  return String(Number(text)) === text;
}

/** Scans a string at p (on its opening quote); keys must be plain ASCII without escapes. */
function string(key: boolean): boolean {
  p++;
  while (p < end) {
    const c = b[p]!;
    if (c === QUOTE) {
      p++;
      return true;
    }
    if (c < 0x20) return false;
    if (c === BACKSLASH) {
      if (key || p + 1 >= end) return false;
      const e = b[p + 1]!;
      // JCS escapes exactly these with a short form; \u (and the needless \/) we leave to the slow path.
      if (
        e !== QUOTE &&
        e !== BACKSLASH &&
        e !== 0x62 &&
        e !== 0x66 &&
        e !== 0x6e &&
        e !== 0x72 &&
        e !== 0x74
      ) {
        return false;
      }
      p += 2;
      continue;
    }
    if (c < 0x80) {
      p++;
      continue;
    }
    if (key || !utf8Sequence(c)) return false;
  }
  return false;
}

const cont = (i: number) => i < end && (b[i]! & 0xc0) === 0x80;

/** One well-formed UTF-8 sequence at p (no overlongs, no surrogates, at most U+10FFFF). */
function utf8Sequence(c: number): boolean {
  if (c >= 0xc2 && c <= 0xdf) {
    if (!cont(p + 1)) return false;
    p += 2;
    return true;
  }
  if (c >= 0xe0 && c <= 0xef) {
    const c1 = p + 1 < end ? b[p + 1]! : 0;
    if (c === 0xe0 && c1 < 0xa0) return false;
    if (c === 0xed && c1 > 0x9f) return false;
    if (!cont(p + 1) || !cont(p + 2)) return false;
    p += 3;
    return true;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const c1 = p + 1 < end ? b[p + 1]! : 0;
    if (c === 0xf0 && c1 < 0x90) return false;
    if (c === 0xf4 && c1 > 0x8f) return false;
    if (!cont(p + 1) || !cont(p + 2) || !cont(p + 3)) return false;
    p += 4;
    return true;
  }
  return false;
}

function object(depth: number): boolean {
  if (depth > MAX_DEPTH) return false;
  p++;
  if (p < end && b[p] === 0x7d) {
    p++;
    return true;
  }
  let prevStart = -1;
  let prevEnd = -1;
  for (;;) {
    if (p >= end || b[p] !== QUOTE) return false;
    const keyStart = p + 1;
    if (!string(true)) return false;
    const keyEnd = p - 1;
    // Keys are ASCII here, so byte order is UTF-16 code-unit order; strictly ascending also rules out duplicates.
    if (prevStart >= 0 && !ascending(prevStart, prevEnd, keyStart, keyEnd)) return false;
    prevStart = keyStart;
    prevEnd = keyEnd;
    if (p >= end || b[p] !== 0x3a) return false;
    p++;
    const isSeq =
      depth === 1 &&
      keyEnd - keyStart === 3 &&
      b[keyStart] === 0x73 &&
      b[keyStart + 1] === 0x65 &&
      b[keyStart + 2] === 0x71;
    const valueStart = p;
    if (!value(depth)) return false;
    if (isSeq && b[valueStart] !== QUOTE && b[valueStart] !== 0x7b && b[valueStart] !== 0x5b)
      seqText = [valueStart, p];
    if (p >= end) return false;
    if (b[p] === 0x2c) {
      p++;
      continue;
    }
    if (b[p] === 0x7d) {
      p++;
      return true;
    }
    return false;
  }
}

function ascending(aStart: number, aEnd: number, bStart: number, bEnd: number): boolean {
  const n = Math.min(aEnd - aStart, bEnd - bStart);
  for (let i = 0; i < n; i++) {
    const x = b[aStart + i]!;
    const y = b[bStart + i]!;
    if (x !== y) return x < y;
  }
  return aEnd - aStart < bEnd - bStart;
}

function array(depth: number): boolean {
  if (depth > MAX_DEPTH) return false;
  p++;
  if (p < end && b[p] === 0x5d) {
    p++;
    return true;
  }
  for (;;) {
    if (!value(depth)) return false;
    if (p >= end) return false;
    if (b[p] === 0x2c) {
      p++;
      continue;
    }
    if (b[p] === 0x5d) {
      p++;
      return true;
    }
    return false;
  }
}
