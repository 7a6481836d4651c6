import type { DataInspection, DlpFinding } from '../core/types.js';
import { maskJson } from '../dlp/mask.js';
import type { Scanner } from '../dlp/scanner.js';
import { isExternal } from '../dlp/usage.js';
import { maskPaths } from './mask.js';

/** The parts of a submission that DLP scans and masking covers; JSONPaths are relative to this object. */
export interface Submitted {
  parameters: unknown;
  reason: string | null;
  context: Record<string, unknown>;
}

export const NO_FINDINGS: DataInspection = Object.freeze({
  findings: [],
  classes: [],
  externalDestination: false,
});

/**
 * Scans a submission and reads its declared data flow (`context.data`). Throws whatever the scanner
 * throws: the caller fails closed.
 */
export function inspectSubmission(
  scanner: Scanner,
  trusted: readonly string[],
  s: Submitted,
): DataInspection {
  const findings: DlpFinding[] = scanner.scanJson(s);
  const flow = s.context.data;
  const declared =
    flow !== null && typeof flow === 'object' ? (flow as { destination?: unknown; classes?: unknown }) : {};
  const classes = new Set<string>(findings.map((f) => f.class));
  if (Array.isArray(declared.classes))
    for (const c of declared.classes) if (typeof c === 'string') classes.add(c);
  const destination = typeof declared.destination === 'string' ? declared.destination : null;
  return { findings, classes: [...classes].sort(), externalDestination: isExternal(destination, trusted) };
}

/** The copy that is stored and shown: DLP findings masked, then the policy's `mask` paths. */
export function maskSubmission(
  s: Submitted,
  findings: readonly DlpFinding[],
  paths: readonly string[],
): Submitted {
  const masked = findings.length > 0 ? maskJson(s, findings) : s;
  return maskPaths(masked, paths);
}
