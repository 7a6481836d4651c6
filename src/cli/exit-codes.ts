/** Process exit codes of DESIGN.md: scripts and CI branch on these. */
export const EXIT = {
  APPROVED: 0,
  ERROR: 1,
  USAGE: 2,
  DENIED: 3,
  /** Expired, cancelled, or timed out waiting. */
  NOT_APPROVED: 4,
} as const;

/** Thrown by commands for bad usage (missing or malformed flags): exits 2 with the message. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
