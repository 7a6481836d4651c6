const compiled = new Map<string, RegExp>();

function globToRegExp(pattern: string): RegExp {
  let re = compiled.get(pattern);
  if (!re) {
    const body = pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*');
    re = new RegExp(`^${body}$`, 'i');
    compiled.set(pattern, re);
  }
  return re;
}

/**
 * True when `destination` matches one of the `trusted_destinations` patterns, where `*` matches any
 * run of characters (`s3://corp-*`, `https://*.corp.example/*`). Anything else is an external flow.
 */
export function isTrustedDestination(destination: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => globToRegExp(p).test(destination));
}
