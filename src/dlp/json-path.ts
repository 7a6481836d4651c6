// Member names that RFC 9535 allows in dot notation; everything else goes in brackets.
const SHORTHAND = /^[A-Za-z_][A-Za-z0-9_]*$/;

// Member names repeat across a document (every log line has its `ts`), so their segments are kept.
const memberSegments = new Map<string, string>();

/** One step of a JSONPath: `.name` / `['na-me']` for a member, `[3]` for an index. */
export function pathSegment(key: string | number): string {
  if (typeof key === 'number') return `[${key}]`;
  let segment = memberSegments.get(key);
  if (segment === undefined) {
    segment = SHORTHAND.test(key) ? `.${key}` : `['${escapeName(key)}']`;
    if (memberSegments.size < 10_000 && key.length <= 64) memberSegments.set(key, segment);
  }
  return segment;
}

/** Formats a normalized JSONPath, e.g. `$.a.b[0]` or `$['key-with-dashes']`. */
export function formatJsonPath(segments: readonly (string | number)[], root = '$'): string {
  let out = root;
  for (const s of segments) out += pathSegment(s);
  return out;
}

// RFC 9535 single-quoted string escapes: backslash, quote and control characters.
function escapeName(name: string): string {
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x27) out += "\\'";
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c < 0x20) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += name[i];
  }
  return out;
}
