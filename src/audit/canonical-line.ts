/**
 * A fast check that an export line is already the RFC 8785 (JCS) form of the object it holds, so
 * its bytes are the leaf as they are: no JSON.parse, no re-serialisation, no UTF-8 re-encoding.
 * Verifying an export is dominated by this per-line work, and our own exports are canonical.
 *
 * It is deliberately conservative: whatever it is not sure of (a `\u` escape, a non-ASCII or escaped
 * key, duplicate keys, deep nesting) returns false and the caller falls back to JSON.parse plus the
 * reference canonicaliser. It never returns true for a line whose JCS form differs from its bytes.
 *
 * One function, one loop, with an explicit stack for nesting: the position, the bytes and the bounds
 * stay in local variables (registers), which matters on this path, where nearly every byte of an
 * export goes through the loop over string contents.
 */

const MAX_DEPTH = 64;
/** Offsets are kept in Int32Arrays; a line beyond that is left to the slow path. */
const MAX_OFFSET = 0x7fff_ffff;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const MINUS = 0x2d;

/**
 * What a byte means inside a string: 0 plain (ASCII 0x20-0x7f but `"` and `\`), 1 `"`, 2 `\`,
 * 3 a control character (never allowed raw), 4 non-ASCII (part of a UTF-8 sequence).
 * Past the end of the buffer a lookup gives undefined, which is none of these: the loops stop.
 */
const PLAIN = 0;
const Q = 1;
const ESC = 2;
const NON_ASCII = 4;
const STRING_CLASS = new Uint8Array(256);
for (let c = 0; c < 0x20; c++) STRING_CLASS[c] = 3;
STRING_CLASS[QUOTE] = Q;
STRING_CLASS[BACKSLASH] = ESC;
for (let c = 0x80; c < 0x100; c++) STRING_CLASS[c] = NON_ASCII;
/** The same for a line already known to be valid UTF-8: non-ASCII bytes in string values are plain. */
const STRING_CLASS_UTF8 = STRING_CLASS.slice();
for (let c = 0x80; c < 0x100; c++) STRING_CLASS_UTF8[c] = PLAIN;

/** Per nesting level: object or array, and for objects the previous key's [start, end). */
const OBJECT = 0;
const ARRAY = 1;
const kinds = new Uint8Array(MAX_DEPTH + 1);
const keyStart = new Int32Array(MAX_DEPTH + 1);
const keyEnd = new Int32Array(MAX_DEPTH + 1);

export interface CanonicalScan {
  /** The line's bytes are exactly the JCS form of a JSON object. */
  canonical: boolean;
  /** Its top-level `seq` when that is a number (NaN when absent or not a number). */
  seq: number;
}

/**
 * Scans bytes[start, stop) (no newline). `utf8Valid`: the caller has checked that these bytes are
 * well-formed UTF-8 (e.g. with `buffer.isUtf8` over a whole batch of lines), so the scan skips
 * non-ASCII bytes in string values instead of validating each sequence itself.
 *
 * Bytes past `stop` may be read (a scan can run on before it fails) but never make a line canonical:
 * the position only grows, and a line is accepted only when its object closes exactly at `stop`.
 */
export function scanCanonicalLine(
  bytes: Uint8Array,
  start: number,
  stop: number,
  out: CanonicalScan,
  utf8Valid = false,
): void {
  out.canonical = false;
  out.seq = Number.NaN;
  const b = bytes;
  const end = stop;
  const strings = utf8Valid ? STRING_CLASS_UTF8 : STRING_CLASS;
  let p = start;
  if (p >= end || end > MAX_OFFSET || b[p] !== LBRACE) return;
  let depth = 0;
  let needKey = false;
  let wantSeq = false;
  let seqFrom = -1;
  let seqTo = -1;

  for (;;) {
    if (needKey) {
      // A key: plain ASCII, no escapes (others go to the slow path), strictly after the previous one.
      if (b[p] !== QUOTE) return;
      const ks = ++p;
      let cls = STRING_CLASS[b[p]!];
      while (cls === PLAIN) cls = STRING_CLASS[b[++p]!];
      if (cls !== Q || p >= end) return;
      const ke = p++;
      const ps = keyStart[depth]!;
      if (ps >= 0) {
        // ASCII, so byte order is UTF-16 code-unit order; strictly ascending also rules out duplicates.
        const la = keyEnd[depth]! - ps;
        const lb = ke - ks;
        const n = la < lb ? la : lb;
        let i = 0;
        while (i < n && b[ps + i] === b[ks + i]) i++;
        if (i < n ? b[ps + i]! > b[ks + i]! : la >= lb) return;
      }
      keyStart[depth] = ks;
      keyEnd[depth] = ke;
      if (b[p] !== COLON) return;
      p++;
      wantSeq = depth === 1 && ke - ks === 3 && b[ks] === 0x73 && b[ks + 1] === 0x65 && b[ks + 2] === 0x71;
      needKey = false;
    }

    // A value at p.
    const c = b[p];
    if (c === LBRACE || c === LBRACKET) {
      if (depth === MAX_DEPTH) return;
      depth++;
      wantSeq = false;
      p++;
      if (c === LBRACE) {
        kinds[depth] = OBJECT;
        if (b[p] !== RBRACE) {
          keyStart[depth] = -1;
          needKey = true;
          continue;
        }
      } else {
        kinds[depth] = ARRAY;
        if (b[p] !== RBRACKET) continue;
      }
      p++; // an empty object or array
      depth--;
    } else {
      const from = p;
      if (c === QUOTE) {
        p++;
        for (;;) {
          let cls = strings[b[p]!];
          while (cls === PLAIN) cls = strings[b[++p]!];
          if (p >= end) return;
          if (cls === Q) break;
          if (cls === ESC) {
            // JCS escapes exactly these with a short form; \u (and the needless \/) go to the slow path.
            const e = b[p + 1];
            if (
              p + 1 >= end ||
              (e !== QUOTE &&
                e !== BACKSLASH &&
                e !== 0x62 &&
                e !== 0x66 &&
                e !== 0x6e &&
                e !== 0x72 &&
                e !== 0x74)
            ) {
              return;
            }
            p += 2;
          } else if (cls === NON_ASCII) {
            const n = utf8Sequence(b, p, end);
            if (n === 0) return;
            p += n;
          } else {
            return; // a raw control character
          }
        }
        p++;
      } else if (c === 0x74) {
        if (b[p + 1] !== 0x72 || b[p + 2] !== 0x75 || b[p + 3] !== 0x65) return;
        p += 4;
      } else if (c === 0x66) {
        if (b[p + 1] !== 0x61 || b[p + 2] !== 0x6c || b[p + 3] !== 0x73 || b[p + 4] !== 0x65) return;
        p += 5;
      } else if (c === 0x6e) {
        if (b[p + 1] !== 0x75 || b[p + 2] !== 0x6c || b[p + 3] !== 0x6c) return;
        p += 4;
      } else if (c === MINUS || (c !== undefined && c >= 0x30 && c <= 0x39)) {
        p = numberEnd(b, p, end);
        if (p < 0) return;
      } else {
        return;
      }
      if (wantSeq) {
        if (c !== QUOTE) {
          seqFrom = from;
          seqTo = p;
        }
        wantSeq = false;
      }
    }

    // After a value: a comma, or the ends of the containers it closes.
    for (;;) {
      if (depth === 0) {
        if (p !== end) return;
        out.canonical = true;
        if (seqFrom >= 0) out.seq = Number(latin1(b, seqFrom, seqTo));
        return;
      }
      if (p >= end) return;
      const s = b[p];
      if (s === COMMA) {
        p++;
        needKey = kinds[depth] === OBJECT;
        break;
      }
      if (s !== (kinds[depth] === OBJECT ? RBRACE : RBRACKET)) return;
      p++;
      depth--;
    }
  }
}

function latin1(b: Uint8Array, from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += String.fromCharCode(b[i]!);
  return s;
}

/** The end of a number at start, or -1 when it is not in the ECMAScript shortest form JCS uses. */
function numberEnd(b: Uint8Array, start: number, end: number): number {
  let p = start;
  let simple = true; // -?[1-9][0-9]* or 0
  while (p < end) {
    const c = b[p]!;
    if (c >= 0x30 && c <= 0x39) p++;
    else if (c === MINUS || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45) {
      if (!(c === MINUS && p === start)) simple = false;
      p++;
    } else break;
  }
  const digitsFrom = b[start] === MINUS ? start + 1 : start;
  const digits = p - digitsFrom;
  if (simple && digits >= 1 && digits <= 15) {
    // Integers below 10^15 print as themselves, except leading zeros and minus zero.
    if (b[digitsFrom] !== 0x30) return p;
    return digits === 1 && digitsFrom === start ? p : -1;
  }
  const text = latin1(b, start, p);
  return String(Number(text)) === text ? p : -1;
}

const cont = (b: Uint8Array, i: number, end: number) => i < end && (b[i]! & 0xc0) === 0x80;

/** The length of the well-formed UTF-8 sequence at p (no overlongs, no surrogates, at most U+10FFFF), or 0. */
function utf8Sequence(b: Uint8Array, p: number, end: number): number {
  const c = b[p]!;
  if (c >= 0xc2 && c <= 0xdf) return cont(b, p + 1, end) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    const c1 = p + 1 < end ? b[p + 1]! : 0;
    if (c === 0xe0 && c1 < 0xa0) return 0;
    if (c === 0xed && c1 > 0x9f) return 0;
    return cont(b, p + 1, end) && cont(b, p + 2, end) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const c1 = p + 1 < end ? b[p + 1]! : 0;
    if (c === 0xf0 && c1 < 0x90) return 0;
    if (c === 0xf4 && c1 > 0x8f) return 0;
    return cont(b, p + 1, end) && cont(b, p + 2, end) && cont(b, p + 3, end) ? 4 : 0;
  }
  return 0;
}
