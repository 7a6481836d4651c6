/** Where a confirmed match lies, and where the scan goes on; reused across calls to avoid allocation. */
export interface Hit {
  type: string;
  start: number;
  end: number;
  /** Index the scan resumes at (usually `end`). */
  resume: number;
}

/**
 * What every match of a trigger looks like where it starts, as regex character classes (`'e'`, `'[A-Z]'`,
 * `'[^0-9A-Za-z]'`) that name ASCII characters only. The scanner turns them into lookup tables and runs
 * the trigger only where all three hold, so they must be true of every trigger match (test/dlp checks).
 */
export interface Lead {
  /** The first character of the match. */
  first: string;
  /** The second character; omit when the trigger can match a single character. */
  second?: string;
  /** The character before the match (mirrors a lookbehind); omit when anything may come before. */
  before?: string;
}

/**
 * A built-in detector: a short `trigger` (a regex fragment without capturing groups; detectors that share
 * one are tried in order) that the scanner looks for at every position its `lead` allows; at a trigger
 * match, the full `pattern` runs sticky from the same index, and `confirm` validates the structure around it.
 */
export interface BuiltinDetector {
  /** The type it usually reports (see TYPE_INFO for severity and class). */
  type: string;
  trigger: string;
  lead: Lead;
  /** The whole token, matched sticky at the trigger's index; absent: the trigger match is the token. */
  pattern?: string;
  /** Validates the trigger match `text[start:end)`; on success fills `hit` and returns true. */
  confirm(text: string, start: number, end: number, hit: Hit): boolean;
}
