import { IBAN_LENGTHS } from './iban-lengths.js';

/** Luhn (mod 10) check over the digits of `s`, ignoring anything else. */
export function luhnValid(s: string): boolean {
  let sum = 0;
  let n = 0;
  let double = false;
  for (let i = s.length - 1; i >= 0; i--) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) continue;
    let d = c;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
    n++;
  }
  return n > 1 && sum % 10 === 0;
}

/**
 * ISO 13616 IBAN check: a known country, that country's length, and mod-97 of the rearranged
 * number equal to 1. Spaces are ignored; letters must be upper case.
 */
export function ibanValid(s: string): boolean {
  const iban = s.replace(/ /g, '');
  if (!/^[A-Z]{2}[0-9]{2}[A-Z0-9]+$/.test(iban)) return false;
  if (IBAN_LENGTHS[iban.slice(0, 2)] !== iban.length) return false;
  return mod97(iban.slice(4) + iban.slice(0, 4)) === 1;
}

/** Mod-97 of the number a string of digits and letters (A=10 … Z=35) spells, computed piecewise. */
export function mod97(s: string): number {
  let r = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) r = (r * 10 + (c - 48)) % 97;
    else if (c >= 65 && c <= 90) r = (r * 100 + (c - 55)) % 97;
    else return -1;
  }
  return r;
}

// Never-issued numbers that circulate widely (the Woolworth wallet card, advertising samples).
// Numbers the SSA voided after they were printed on a wallet insert (078-05-1120) and in an ad
// (219-09-9999). 123-45-6789 stays: it is in the valid ranges, and it is what a test of SSN detection sends.
const SSN_DENYLIST = new Set(['078051120', '219099999']);

/** SSA rules: area not 000, 666 or 900–999; group not 00; serial not 0000. `s` holds 9 digits. */
export function ssnValid(digits: string): boolean {
  if (!/^[0-9]{9}$/.test(digits)) return false;
  const area = Number(digits.slice(0, 3));
  if (area === 0 || area === 666 || area >= 900) return false;
  if (digits.slice(3, 5) === '00' || digits.slice(5) === '0000') return false;
  return !SSN_DENYLIST.has(digits);
}

// Shared histogram so the hot path does not allocate per call; strings are short, so clearing is cheap.
const counts = new Int32Array(65536);

/** Shannon entropy of `s[start:end)` in bits per character. */
export function shannonEntropy(s: string, start = 0, end = s.length): number {
  const len = end - start;
  if (len <= 0) return 0;
  for (let i = start; i < end; i++) counts[s.charCodeAt(i)]!++;
  let h = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    const n = counts[c]!;
    if (n === 0) continue;
    const p = n / len;
    h -= p * Math.log2(p);
    counts[c] = 0;
  }
  return h;
}

/** How many of lower case, upper case, digits and other characters occur in `s[start:end)`. */
export function charClasses(s: string, start = 0, end = s.length): number {
  let mask = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c >= 97 && c <= 122) mask |= 1;
    else if (c >= 65 && c <= 90) mask |= 2;
    else if (c >= 48 && c <= 57) mask |= 4;
    else mask |= 8;
  }
  return (mask & 1) + ((mask >> 1) & 1) + ((mask >> 2) & 1) + ((mask >> 3) & 1);
}

// Words that only a template puts where a secret goes.
const TEMPLATE_WORDS =
  /your|xxxx|placeholder|redacted|changeme|change_me|insert|replace|todo|lorem|\*\*\*|\.\.\./i;
// The same, and the words of documentation values: one scan for `isPlaceholder`.
const PLACEHOLDER_WORDS =
  /example|sample|dummy|fake|foobar|your|xxxx|placeholder|redacted|changeme|change_me|insert|replace|todo|lorem|\*\*\*|\.\.\./i;
const TEMPLATE_MARKS = /^[<{[(%$]|[>}\])]$/;

/** True when `v` has a run of `limit` equal characters, or (with `ascending`) of ascending ones. */
function hasRun(v: string, limit: number, ascending: boolean): boolean {
  let run = 1;
  let same = 1;
  for (let i = 1; i < v.length; i++) {
    const d = v.charCodeAt(i) - v.charCodeAt(i - 1);
    run = ascending && d === 1 ? run + 1 : 1;
    same = d === 0 ? same + 1 : 1;
    if (run >= limit || same >= limit) return true;
  }
  return false;
}

const slice = (s: string, start: number, end: number): string =>
  start === 0 && end === s.length ? s : s.slice(start, end);

/**
 * True for what a template holds where a secret goes: `<YOUR_API_KEY>`, `${TOKEN}`, `{{ secret }}`,
 * `xxxx`, `changeme`, `***`, or one character repeated. Tokens of a known format (a fixed prefix, a fixed
 * length) are refused only for this: a made-up `AKIA…EXAMPLE` or `ghp_abcdef…` still has the format, so
 * it is reported, as people testing a scanner expect.
 */
export function isTemplatePlaceholder(s: string, start = 0, end = s.length): boolean {
  const v = slice(s, start, end);
  if (TEMPLATE_WORDS.test(v) || TEMPLATE_MARKS.test(v) || v.includes('${') || v.includes('{{')) return true;
  return hasRun(v, 6, false);
}

/**
 * For free-form values (a value assigned to a key-like name, custom entropy detectors), where a
 * documentation value is the likelier reading: a template placeholder, a value naming itself an example
 * (`…EXAMPLE`, `dummy`, `fake`), or a long run like `abcdef` / `123456`.
 */
export function isPlaceholder(s: string, start = 0, end = s.length): boolean {
  const v = slice(s, start, end);
  if (PLACEHOLDER_WORDS.test(v) || TEMPLATE_MARKS.test(v) || v.includes('${') || v.includes('{{'))
    return true;
  return hasRun(v, 6, true);
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export function isUuid(s: string): boolean {
  return UUID.test(s);
}

/** Decodes base64url (padding optional) to a UTF-8 string, or null when it is not base64url. */
export function base64UrlDecode(s: string): string | null {
  if (!/^[A-Za-z0-9_-]*={0,2}$/.test(s) || s.replace(/=+$/, '').length % 4 === 1) return null;
  return Buffer.from(s, 'base64url').toString('utf8');
}

/** A JWT header: base64url of a JSON object with a string `alg`. */
export function jwtHeaderValid(segment: string): boolean {
  const json = base64UrlDecode(segment);
  if (json === null) return false;
  try {
    const header: unknown = JSON.parse(json);
    return (
      typeof header === 'object' &&
      header !== null &&
      typeof (header as Record<string, unknown>).alg === 'string'
    );
  } catch {
    return false;
  }
}

/** A JWT payload segment: base64url of a JSON object. */
export function jwtPayloadValid(segment: string): boolean {
  const json = base64UrlDecode(segment);
  if (json === null) return false;
  try {
    const payload: unknown = JSON.parse(json);
    return typeof payload === 'object' && payload !== null && !Array.isArray(payload);
  } catch {
    return false;
  }
}
