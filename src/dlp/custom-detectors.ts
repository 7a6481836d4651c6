import { BUILTIN_TYPES, type DlpClass, type DlpSeverity } from './types.js';
import { DlpConfigError, type CustomDetectorConfig } from './config.js';
import { ibanValid, isPlaceholder, luhnValid, shannonEntropy } from './validators.js';

/** A custom detector, compiled once. */
export interface CompiledCustom {
  type: string;
  severity: DlpSeverity;
  class: DlpClass;
  regex: RegExp;
  keywords: readonly string[] | null;
  window: number;
  validate: ((text: string, start: number, end: number) => boolean) | null;
}

const VALIDATORS = {
  luhn: (t: string, s: number, e: number) => luhnValid(t.slice(s, e)),
  mod97: (t: string, s: number, e: number) => ibanValid(t.slice(s, e).toUpperCase()),
  entropy: (t: string, s: number, e: number) => shannonEntropy(t, s, e) >= 3 && !isPlaceholder(t, s, e),
} as const;

export function compileCustom(detectors: readonly CustomDetectorConfig[]): CompiledCustom[] {
  const seen = new Set<string>(BUILTIN_TYPES);
  return detectors.map((d) => {
    if (seen.has(d.name)) {
      throw new DlpConfigError(
        `dlp detector ${d.name}: the name is already taken by another detector`,
        d.name,
      );
    }
    seen.add(d.name);
    let regex: RegExp;
    try {
      regex = new RegExp(d.pattern, d.ignore_case ? 'gi' : 'g');
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new DlpConfigError(
        `dlp detector ${d.name}: pattern is not a valid regular expression: ${why}`,
        d.name,
      );
    }
    if (new RegExp(`^(?:${d.pattern})$`, regex.flags.replace('g', '')).test('')) {
      throw new DlpConfigError(`dlp detector ${d.name}: pattern matches the empty string`, d.name);
    }
    return {
      type: d.name,
      severity: d.severity,
      class: d.class,
      regex,
      keywords: d.keywords ? d.keywords.map((k) => k.toLowerCase()) : null,
      window: d.keyword_window ?? 40,
      validate: d.validator ? VALIDATORS[d.validator] : null,
    };
  });
}

/** Compiles the allowlist into one predicate over a matched value. */
export function compileAllowlist(
  entries: readonly (string | { value: string } | { pattern: string })[],
): ((value: string) => boolean) | null {
  if (entries.length === 0) return null;
  const exact = new Set<string>();
  const patterns: RegExp[] = [];
  entries.forEach((e, i) => {
    if (typeof e === 'string') exact.add(e);
    else if ('value' in e) exact.add(e.value);
    else {
      try {
        patterns.push(new RegExp(e.pattern));
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        throw new DlpConfigError(`dlp.allowlist[${i}]: pattern is not a valid regular expression: ${why}`);
      }
    }
  });
  return (value) => exact.has(value) || patterns.some((p) => p.test(value));
}
