import type { BuiltinDetector } from './detector.js';
import { assignedSecretType, KeyKind, keyKind } from './key-names.js';

const isNameChar = (c: number) =>
  (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 45 || c === 46;
const isSpace = (c: number) => c === 32 || c === 9;
const isQuote = (c: number) => c === 34 || c === 39;
// Where an unquoted value ends.
const isValueEnd = (c: number) =>
  Number.isNaN(c) ||
  c <= 32 ||
  c === 34 ||
  c === 39 ||
  c === 44 ||
  c === 59 ||
  c === 38 ||
  c === 41 ||
  c === 125 ||
  c === 93 ||
  c === 60 ||
  c === 62;
const AUTH_SCHEME = /(?:Bearer|Basic|Token|token|bearer) +/y;

// Last letters of the key words (key, secret, token, password, pwd, credentials, auth, passphrase, bearer, …).
const ENDING_LETTERS = 'ytndslher';
const NAME_ENDINGS = new Set([...ENDING_LETTERS].map((c) => c.charCodeAt(0)));
const NAME_END = `[${ENDING_LETTERS}${ENDING_LETTERS.toUpperCase()}"' \t]`;
const isLetter = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

/**
 * `API_KEY=…`, `client_secret: "…"`, `"password": "…"` inside text: triggered by the `=` or `:`, it reads
 * the name before it and the value after it, and lets the name's kind and the value's entropy decide.
 */
export const assignmentDetector: BuiltinDetector = {
  type: 'generic_api_key',
  // Right before the `=` or `:` comes the name's last letter, a quote or a space (`confirm` checks which):
  // this keeps the scanner from stopping at every `10:22` or `?page=2`.
  trigger: `(?<=${NAME_END})[=:]`,
  lead: { first: '[=:]', before: NAME_END },
  confirm(text, start, _end, hit) {
    let ne = start;
    while (ne > 0 && isSpace(text.charCodeAt(ne - 1))) ne--;
    if (isQuote(text.charCodeAt(ne - 1))) ne--;
    // Every key-like name ends in a letter; this rejects `10:22`, `page=2` … before any allocation.
    if (!isLetter(text.charCodeAt(ne - 1)) || !NAME_ENDINGS.has(text.charCodeAt(ne - 1) | 32)) return false;
    let ns = ne - 1;
    while (ns > 0 && ne - ns < 64 && isNameChar(text.charCodeAt(ns - 1))) ns--;
    const kind = keyKind(text.slice(ns, ne));
    if (kind === KeyKind.None) return false;
    let i = start + 1;
    const next = text.charCodeAt(i);
    if (next === 61 || next === 62)
      i++; // `:=`, `==`, `=>`
    else if (next === 47 && text.charCodeAt(i + 1) === 47) return false; // `https://`
    while (isSpace(text.charCodeAt(i))) i++;
    const quote = text.charCodeAt(i);
    if (isQuote(quote)) i++;
    AUTH_SCHEME.lastIndex = i;
    if (AUTH_SCHEME.test(text)) i = AUTH_SCHEME.lastIndex;
    let j = i;
    if (isQuote(quote))
      while (j < text.length && text.charCodeAt(j) !== quote && text.charCodeAt(j) !== 10) j++;
    else while (!isValueEnd(text.charCodeAt(j))) j++;
    const type = assignedSecretType(text, i, j, kind);
    if (type === null) return false;
    hit.type = type;
    hit.start = i;
    hit.end = j;
    hit.resume = start + 1;
    return true;
  },
};
