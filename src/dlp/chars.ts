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
  const before = text.slice(Math.max(0, start - window), start).toLowerCase();
  for (const w of words) if (before.includes(w)) return true;
  return false;
}
