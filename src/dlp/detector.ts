/** Where a confirmed match lies, and where the scan goes on; reused across calls to avoid allocation. */
export interface Hit {
  type: string;
  start: number;
  end: number;
  /** Index the scan resumes at (usually `end`). */
  resume: number;
}

/**
 * A built-in detector: a short `trigger` (a regex fragment without capturing groups; detectors that share
 * one are tried in order) joins the one combined pre-filter; at a trigger match, the full `pattern` runs
 * sticky from the same index, and `confirm` validates the structure around it.
 */
export interface BuiltinDetector {
  /** The type it usually reports (see TYPE_INFO for severity and class). */
  type: string;
  trigger: string;
  /** The whole token, matched sticky at the trigger's index; absent: the trigger match is the token. */
  pattern?: string;
  /** Validates the trigger match `text[start:end)`; on success fills `hit` and returns true. */
  confirm(text: string, start: number, end: number, hit: Hit): boolean;
}
