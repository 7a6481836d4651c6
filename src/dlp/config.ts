import { z } from 'zod';
import { BUILTIN_TYPES } from './types.js';

/** A detector an operator adds in config: a regex, optional key words before it, an optional validator. */
export const customDetectorSchema = z
  .object({
    /** The finding type it reports, e.g. `employee_id`. */
    name: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'must be lower_snake_case, e.g. employee_id'),
    /** A JavaScript regular expression (no slashes, no flags). */
    pattern: z.string().min(1),
    /** When given, one of these (case-insensitive) must occur within `keyword_window` characters before a match. */
    keywords: z.array(z.string().min(1)).min(1).optional(),
    keyword_window: z.number().int().min(1).max(1000).optional(),
    ignore_case: z.boolean().optional(),
    validator: z.enum(['luhn', 'mod97', 'entropy']).optional(),
    severity: z.enum(['low', 'medium', 'high']),
    class: z.enum(['secret', 'personal', 'financial', 'network']),
  })
  .strict();

/** An allowlisted value: the exact string, `{ value }`, or `{ pattern }` (a regex the whole match is tested with). */
export const allowlistEntrySchema = z.union([
  z.string().min(1),
  z.object({ value: z.string().min(1) }).strict(),
  z.object({ pattern: z.string().min(1) }).strict(),
]);

/** The `dlp:` block of the gateway config. */
export const dlpConfigSchema = z
  .object({
    detectors: z.array(customDetectorSchema).default([]),
    allowlist: z.array(allowlistEntrySchema).default([]),
    /** Destination patterns (`*` matches any run of characters) that data flows may go to without being external. */
    trusted_destinations: z.array(z.string().min(1)).default([]),
    /** Built-in detector types to turn off, e.g. `[ipv4]`. */
    disabled: z.array(z.enum(BUILTIN_TYPES)).default([]),
  })
  .strict();

/** The config as written (defaults optional); `dlpConfigSchema.parse` gives the filled-in form. */
export type DlpConfig = z.input<typeof dlpConfigSchema>;
export type CustomDetectorConfig = z.output<typeof customDetectorSchema>;

/** A bad `dlp:` block: names the detector (or allowlist entry) and what is wrong with it. */
export class DlpConfigError extends Error {
  override readonly name = 'DlpConfigError';
  readonly code = 'DLP_CONFIG' as const;
  /** The custom detector at fault, when there is one. */
  readonly detector: string | null;
  constructor(message: string, detector: string | null = null) {
    super(message);
    this.detector = detector;
  }
}

/** Validates and fills in a `dlp:` block, or throws DlpConfigError. */
export function parseDlpConfig(config: DlpConfig | undefined): z.output<typeof dlpConfigSchema> {
  const parsed = dlpConfigSchema.safeParse(config ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue ? ['dlp', ...issue.path].join('.') : 'dlp';
    throw new DlpConfigError(`${where}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}
