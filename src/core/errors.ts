/** Stable error codes of the public contract (DESIGN.md). Tests assert codes, never messages. */
export const ERROR_STATUS = {
  INVALID_REQUEST: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_AN_APPROVER: 403,
  SELF_APPROVAL_FORBIDDEN: 403,
  NOT_FOUND: 404,
  ALREADY_DECIDED: 409,
  ALREADY_REVIEWED: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class CountersignError extends Error {
  override readonly name = 'CountersignError';
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export function isCountersignError(err: unknown, code?: ErrorCode): err is CountersignError {
  return err instanceof CountersignError && (code === undefined || err.code === code);
}

/**
 * What every refused API key is told, whatever the reason, so that a caller cannot learn whether a key id
 * exists or why its key was refused.
 */
export const INVALID_API_KEY = 'invalid, expired or revoked API key';
