/** How bad a leak of the finding would be. */
export type DlpSeverity = 'low' | 'medium' | 'high';

/** The kind of data a finding is: policy and usage tracking work on classes. */
export type DlpClass = 'secret' | 'personal' | 'financial' | 'network';

/**
 * One thing a detector found. It never carries the value: `start` and `end` are offsets
 * (UTF-16 code units, end exclusive) into the string at `path`, a JSONPath (`$` for plain text).
 */
export interface DlpFinding {
  type: string;
  severity: DlpSeverity;
  class: DlpClass;
  path: string;
  start: number;
  end: number;
}

/** The built-in detector types, by their stable names. */
export const BUILTIN_TYPES = [
  'aws_access_key_id',
  'aws_secret_access_key',
  'github_token',
  'gitlab_token',
  'slack_token',
  'slack_webhook_url',
  'stripe_secret_key',
  'google_api_key',
  'openai_api_key',
  'anthropic_api_key',
  'private_key',
  'jwt',
  'password_in_url',
  'generic_api_key',
  'email',
  'phone_number',
  'credit_card',
  'iban',
  'us_ssn',
  'ipv4',
] as const;

export type BuiltinType = (typeof BUILTIN_TYPES)[number];

/** A span inside one string, as detectors report it before a path is attached. */
export interface Span {
  start: number;
  end: number;
}
