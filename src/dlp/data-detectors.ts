import { isAlnum, isDigit, keywordBefore } from './chars.js';
import type { BuiltinDetector, Hit, Lead } from './detector.js';
import { IBAN_LENGTHS } from './iban-lengths.js';
import { ibanValid, luhnValid, ssnValid } from './validators.js';

// Numbers start at a token boundary and run at least 7 characters.
const NUMBER_TRIGGER = '(?<![0-9A-Za-z_.+-])[+(]?[0-9][0-9 ().-]{6}';
const NUMBER_LEAD: Lead = { before: '[^0-9A-Za-z_.+-]', first: '[+(0-9]', second: '[0-9 ().-]' };

function set(hit: Hit, type: string, start: number, end: number): true {
  hit.type = type;
  hit.start = start;
  hit.end = end;
  hit.resume = end;
  return true;
}

// A number continues when a separator is followed by another digit: `1.2.3.4.5`, `10.0.0.1-3`.
function numberContinues(text: string, end: number): boolean {
  const c = text.charCodeAt(end);
  if (isAlnum(c)) return true;
  return (c === 46 || c === 45) && isDigit(text.charCodeAt(end + 1));
}
function numberBefore(text: string, start: number): boolean {
  const c = text.charCodeAt(start - 1);
  if (isAlnum(c) || c === 95) return true;
  return (c === 46 || c === 45) && isDigit(text.charCodeAt(start - 2));
}

const LOCAL_CHAR = (c: number) => isAlnum(c) || c === 46 || c === 95 || c === 37 || c === 43 || c === 45;

/** True when `text[colon]` separates user and password in a URL's userinfo (`scheme://user:pass@`). */
function inUrlUserinfo(text: string, colon: number): boolean {
  const scheme = text.lastIndexOf('://', colon);
  if (scheme < 0) return false;
  for (let i = scheme + 3; i < colon; i++) {
    const c = text.charCodeAt(i);
    if (c === 47 || c === 64 || c <= 32) return false; // '/', '@' or whitespace: not the same userinfo
  }
  return true;
}

/**
 * Addresses with a real-looking domain. RFC 2606's example domains count: `jane@example.com` is what
 * people test with, and a scanner that passes it over looks broken. URL userinfo, `git@host:repo`,
 * `icon@2x.png` and `pkg@1.2.3` are not addresses.
 */
const email: BuiltinDetector = {
  type: 'email',
  trigger: '@',
  lead: { first: '@' },
  pattern: '@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)+',
  confirm(text, start, end, hit) {
    let ls = start;
    while (ls > 0 && start - ls < 64 && LOCAL_CHAR(text.charCodeAt(ls - 1))) ls--;
    if (ls === start || LOCAL_CHAR(text.charCodeAt(ls - 1))) return false;
    if (text.charCodeAt(ls) === 46 || text.charCodeAt(start - 1) === 46) return false;
    if (text.startsWith('://', ls - 3)) return false; // https://user@host is a URL, not an address
    if (text.charCodeAt(ls - 1) === 58 && inUrlUserinfo(text, ls - 1)) return false; // scheme://user:pass@host
    let de = end;
    while (text.charCodeAt(de - 1) === 45) de--;
    const domain = text.slice(start + 1, de);
    const tld = domain.slice(domain.lastIndexOf('.') + 1);
    if (!/^[A-Za-z]{2,24}$/.test(tld)) return false;
    if (/^[0-9]x\./.test(domain)) return false; // icon@2x.png
    if (text.charCodeAt(de) === 58 && isAlnum(text.charCodeAt(de + 1))) return false; // git@host:org/repo
    return set(hit, 'email', ls, de);
  },
};

const NANP = /(?:\([2-9][0-9]{2}\) ?|[2-9][0-9]{2}([-. ]))[2-9][0-9]{2}([-.])[0-9]{4}/y;

/** `+` international numbers (8–15 digits, E.164) and formatted North American numbers. */
const phone: BuiltinDetector = {
  type: 'phone_number',
  trigger: NUMBER_TRIGGER,
  lead: NUMBER_LEAD,
  pattern:
    '\\+[1-9][0-9 ().-]{6,20}[0-9]|(?:\\([2-9][0-9]{2}\\) ?|[2-9][0-9]{2}[-. ])[2-9][0-9]{2}[-.][0-9]{4}',
  confirm(text, start, end, hit) {
    if (numberContinues(text, end)) return false;
    if (text.charCodeAt(start) === 43) {
      if (isAlnum(text.charCodeAt(start - 1)) || text.charCodeAt(start - 1) === 43) return false;
      const v = text.slice(start, end);
      const digits = v.replace(/[^0-9]/g, '').length;
      if (
        digits < 8 ||
        digits > 15 ||
        /[ .()-]{2}/.test(v.replace(/\) /g, ')')) ||
        /\d{4}-\d{2}-\d{2}/.test(v)
      )
        return false;
      if (v.split('(').length !== v.split(')').length) return false;
      return set(hit, 'phone_number', start, end);
    }
    const prev = text.charCodeAt(start - 1);
    if (isAlnum(prev) || prev === 95 || prev === 46 || prev === 47) return false;
    if (prev === 45 && !(text.charCodeAt(start - 2) === 49 && !isDigit(text.charCodeAt(start - 3))))
      return false;
    NANP.lastIndex = start;
    const m = NANP.exec(text);
    if (!m || NANP.lastIndex !== end) return false;
    if (m[1] !== undefined && m[1] !== ' ' && m[1] !== m[2]) return false;
    return set(hit, 'phone_number', start, end);
  },
};

const SSN_WORDS = ['ssn', 'social security', 'social sec', 'ss#', 'ss #'];

/** `123-45-6789` with valid area, group and serial; space-separated or bare only next to "SSN". */
const ssn: BuiltinDetector = {
  type: 'us_ssn',
  trigger: NUMBER_TRIGGER,
  lead: NUMBER_LEAD,
  pattern: '[0-9]{3}[- ]?[0-9]{2}[- ]?[0-9]{4}',
  confirm(text, start, end, hit) {
    if (numberBefore(text, start) || numberContinues(text, end)) return false;
    const v = text.slice(start, end);
    const digits = v.replace(/[- ]/g, '');
    const dashed = v.length === 11 && v[3] === '-' && v[6] === '-';
    const consistent = v.length === 9 || (v.length === 11 && v[3] === v[6]);
    if (!consistent || !ssnValid(digits)) return false;
    if (!dashed && !keywordBefore(text, start, 24, SSN_WORDS)) return false;
    return set(hit, 'us_ssn', start, end);
  },
};

function iinValid(d: string): boolean {
  const two = Number(d.slice(0, 2));
  const four = Number(d.slice(0, 4));
  const three = Number(d.slice(0, 3));
  if (d[0] === '4') return d.length === 13 || d.length === 16 || d.length === 19;
  if (two >= 51 && two <= 55) return d.length === 16;
  if (four >= 2221 && four <= 2720) return d.length === 16;
  if (two === 34 || two === 37) return d.length === 15;
  if (four === 6011 || two === 65 || (three >= 644 && three <= 649)) return d.length >= 16;
  if (four >= 3528 && four <= 3589) return d.length >= 16;
  if ((three >= 300 && three <= 305) || two === 36 || two === 38 || two === 39) return d.length >= 14;
  if (two === 62) return d.length >= 16;
  if (two === 50 || (two >= 56 && two <= 58) || two === 63 || two === 67) return d.length >= 12;
  return false;
}

// Group layouts printed on cards: 4-4-4-4, 4-6-5 (Amex), 4-6-4 (Diners), 4-4-4-4-3.
const LAYOUTS = ['4,4,4,4,3', '4,4,4,4', '4,6,5', '4,6,4'];
const GROUP = /[0-9]+/y;

/** 13–19 digits, contiguous or in printed groups, with a known issuer prefix and a valid Luhn digit. */
const creditCard: BuiltinDetector = {
  type: 'credit_card',
  trigger: NUMBER_TRIGGER,
  lead: NUMBER_LEAD,
  pattern: '[0-9]{4}[ -]?[0-9]{4}',
  confirm(text, start, _end, hit) {
    if (numberBefore(text, start)) return false;
    const groups: number[] = [];
    const ends: number[] = [];
    let i = start;
    let sep = -1;
    for (;;) {
      GROUP.lastIndex = i;
      if (!GROUP.exec(text)) break;
      groups.push(GROUP.lastIndex - i);
      ends.push(GROUP.lastIndex);
      i = GROUP.lastIndex;
      const c = text.charCodeAt(i);
      if (
        groups.length >= 5 ||
        (c !== 32 && c !== 45) ||
        (sep >= 0 && c !== sep) ||
        !isDigit(text.charCodeAt(i + 1))
      )
        break;
      sep = c;
      i++;
    }
    let cardEnd = -1;
    if (groups.length === 1) {
      if (groups[0]! >= 13 && groups[0]! <= 19) cardEnd = ends[0]!;
    } else {
      for (const layout of LAYOUTS) {
        const n = layout.split(',').length;
        if (groups.length >= n && groups.slice(0, n).join(',') === layout) {
          cardEnd = ends[n - 1]!;
          break;
        }
      }
    }
    if (cardEnd < 0 || numberContinues(text, cardEnd)) return false;
    const digits = text.slice(start, cardEnd).replace(/[ -]/g, '');
    if (!iinValid(digits) || !luhnValid(digits)) return false;
    return set(hit, 'credit_card', start, cardEnd);
  },
};

const IBAN_GROUPED = /(?: [A-Z0-9]{4})*(?: [A-Z0-9]{1,4})?/y;
const IBAN_PLAIN = /[A-Z0-9]*/y;

/** Upper-case IBANs, contiguous or in groups of four: known country, its length, mod-97 = 1. */
const iban: BuiltinDetector = {
  type: 'iban',
  trigger: '(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2}',
  lead: { before: '[^A-Za-z0-9]', first: '[A-Z]', second: '[A-Z]' },
  pattern: '[A-Z]{2}[0-9]{2} ?[A-Z0-9]{4}',
  confirm(text, start, _end, hit) {
    if (isAlnum(text.charCodeAt(start - 1))) return false;
    const length = IBAN_LENGTHS[text.slice(start, start + 2)];
    if (length === undefined) return false;
    const grouped = text.charCodeAt(start + 4) === 32;
    const re = grouped ? IBAN_GROUPED : IBAN_PLAIN;
    re.lastIndex = start + 4;
    re.exec(text);
    let stop = re.lastIndex;
    // Trim a grouped IBAN back to the country's length (a following word may look like a group).
    let count = 0;
    let cut = start;
    for (let k = start; k < stop; k++) {
      if (text.charCodeAt(k) !== 32) count++;
      if (count === length) {
        cut = k + 1;
        break;
      }
    }
    if (count !== length) return false;
    stop = cut;
    if (isAlnum(text.charCodeAt(stop))) return false;
    if (!ibanValid(text.slice(start, stop))) return false;
    return set(hit, 'iban', start, stop);
  },
};

const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])';
const VERSION_WORDS = ['version', 'ver ', 'ver.', 'ver:', 'ver=', 'release', 'build', 'firmware', 'fw '];

/** Dotted quads in range; version strings (`v1.2.3.4`, `version 1.2.3.4`), netmasks and 0.0.0.0 are not. */
const ipv4: BuiltinDetector = {
  type: 'ipv4',
  trigger: NUMBER_TRIGGER,
  lead: NUMBER_LEAD,
  pattern: `${OCTET}(?:\\.${OCTET}){3}`,
  confirm(text, start, end, hit) {
    if (numberBefore(text, start) || numberContinues(text, end)) return false;
    const c = text.charCodeAt(start - 1);
    if (c === 46 || c === 45) return false;
    if (text.startsWith('255.', start) || text.startsWith('0.0.0.0', start)) return false;
    if (keywordBefore(text, start, 12, VERSION_WORDS)) return false;
    return set(hit, 'ipv4', start, end);
  },
};

export const DATA_DETECTORS: readonly BuiltinDetector[] = [creditCard, iban, ssn, phone, ipv4, email];
