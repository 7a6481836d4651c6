import type { DlpClass, DlpSeverity } from './types.js';

/** Severity and class of every built-in type (a detector may report more than one type). */
export const TYPE_INFO: Readonly<Record<string, { severity: DlpSeverity; class: DlpClass }>> = {
  aws_access_key_id: { severity: 'high', class: 'secret' },
  aws_secret_access_key: { severity: 'high', class: 'secret' },
  github_token: { severity: 'high', class: 'secret' },
  gitlab_token: { severity: 'high', class: 'secret' },
  slack_token: { severity: 'high', class: 'secret' },
  slack_webhook_url: { severity: 'high', class: 'secret' },
  stripe_secret_key: { severity: 'high', class: 'secret' },
  google_api_key: { severity: 'high', class: 'secret' },
  openai_api_key: { severity: 'high', class: 'secret' },
  anthropic_api_key: { severity: 'high', class: 'secret' },
  private_key: { severity: 'high', class: 'secret' },
  jwt: { severity: 'medium', class: 'secret' },
  password_in_url: { severity: 'high', class: 'secret' },
  generic_api_key: { severity: 'medium', class: 'secret' },
  email: { severity: 'low', class: 'personal' },
  phone_number: { severity: 'low', class: 'personal' },
  credit_card: { severity: 'high', class: 'financial' },
  iban: { severity: 'medium', class: 'financial' },
  us_ssn: { severity: 'high', class: 'personal' },
  ipv4: { severity: 'low', class: 'network' },
};
