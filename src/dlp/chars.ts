// Character tests on UTF-16 code units; NaN (out of range) is never any class.

export function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

export function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** Letters, digits, `_` and `-`: the alphabet of base64url and of most token formats. */
export function isTokenChar(c: number): boolean {
  return isAlnum(c) || c === 95 || c === 45;
}

/** True when the token `[start, end)` stands alone: no token character touches it on either side. */
export function standsAlone(text: string, start: number, end: number, inner = isAlnum): boolean {
  return !inner(text.charCodeAt(start - 1)) && !inner(text.charCodeAt(end));
}

/** True when one of `words` (lower case) occurs in the `window` characters before `start`. */
export function keywordBefore(
  text: string,
  start: number,
  window: number,
  words: readonly string[],
): boolean {
  const from = Math.max(0, start - window);
  // Plain ASCII (the usual case) is lower-cased on the fly; anything else takes toLowerCase's rules.
  for (let i = from; i < start; i++) {
    if (text.charCodeAt(i) >= 128) {
      const before = text.slice(from, start).toLowerCase();
      return words.some((w) => before.includes(w));
    }
  }
  for (const w of words)
    for (let at = from; at + w.length <= start; at++) if (asciiWordAt(text, at, w)) return true;
  return false;
}

/** True when `word` (lower case) occurs at `text[at]`, comparing ASCII letters without case. */
function asciiWordAt(text: string, at: number, word: string): boolean {
  for (let k = 0; k < word.length; k++) {
    const c = text.charCodeAt(at + k);
    if ((c >= 65 && c <= 90 ? c + 32 : c) !== word.charCodeAt(k)) return false;
  }
  return true;
}
