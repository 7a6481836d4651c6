import { charClasses, isPlaceholder, isTemplatePlaceholder, isUuid, shannonEntropy } from './validators.js';

/** What a key-like name says about the value assigned to it. */
export const KeyKind = {
  None: 0,
  /** api_key, client_secret, auth_token, …: expect a high-entropy machine secret. */
  Secret: 1,
  /** password, passwd, pwd, passphrase: expect something a person chose. */
  Password: 2,
  /** aws_secret_access_key and its spellings. */
  AwsSecret: 3,
} as const;
export type KeyKind = (typeof KeyKind)[keyof typeof KeyKind];

const SECRET_WORDS =
  /apikey|accesskey|secretkey|privatekey|signingkey|masterkey|encryptionkey|authkey|sessionkey|clientsecret|secret|token|credential|authorization|bearer/;
const PASSWORD_WORDS = /password|passwd|pwd|passphrase/;
const AWS_SECRET = /aws.*secret|secretaccesskey/;
// Names that talk about a secret without holding one: `token_url`, `secret_name`, `password_policy`, …
const NOT_A_VALUE =
  /(name|names|id|ids|arn|ref|url|uri|path|file|type|version|count|length|ttl|expiry|expires|expiresat|expiresin|limit|limits|header|field|env|var|policy|hint|usage|hash|digest|rotation|provider|store|manager|endpoint|format|prefix|label|description|enabled|required|len|size|tokens)$/;

const cache = new Map<string, KeyKind>();

/** Classifies a JSON key or assignment name (`API_KEY`, `clientSecret`, `db-password`); cached. */
export function keyKind(name: string): KeyKind {
  let kind = cache.get(name);
  if (kind !== undefined) return kind;
  const n = name.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (NOT_A_VALUE.test(n) && !AWS_SECRET.test(n)) kind = KeyKind.None;
  else if (AWS_SECRET.test(n)) kind = KeyKind.AwsSecret;
  else if (PASSWORD_WORDS.test(n)) kind = KeyKind.Password;
  else if (SECRET_WORDS.test(n)) kind = KeyKind.Secret;
  else kind = KeyKind.None;
  if (cache.size < 10_000) cache.set(name, kind);
  return kind;
}

// Values that are clearly not secrets even under a secret-looking name.
const NOT_SECRET_WORD =
  /^(?:true|false|null|none|nil|undefined|secret|password|token|required|optional|disabled|enabled|\*+)$|:\/\/|^arn:|^sha(?:1|256|384|512):/i;
// Identifiers, lower-case paths and code: `my-secret-name`, `prod/db/password`, `process.env.SECRET`, `get(…)`.
const NOT_SECRET_SHAPE =
  /^[a-z]+(?:[-_.][a-z0-9]+)+$|^[a-z0-9_.-]+(?:\/[a-z0-9_.-]+){2,}$|[([]|^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+$/;
const AWS_SECRET_VALUE = /^[A-Za-z0-9/+]{40}$/;
const SECRET_CHARS = /^[A-Za-z0-9+/=_\-.~:!@#$%^&*?|]+$/;

/**
 * Decides whether `text[start:end)`, assigned to a name of `kind`, is a real secret. Returns the
 * finding type, or null. Entropy and character-class thresholds keep words, ids and paths out.
 */
export function assignedSecretType(text: string, start: number, end: number, kind: KeyKind): string | null {
  const len = end - start;
  if (kind === KeyKind.None || len < 6 || len > 1024) return null;
  const v = text.slice(start, end);
  // AWS's format is exact (40 base64 characters): only a template keeps such a value out, so AWS's own
  // documentation key is reported like any other, as a test of the scanner expects.
  if (kind === KeyKind.AwsSecret && AWS_SECRET_VALUE.test(v)) {
    return !isTemplatePlaceholder(v) && shannonEntropy(v) >= 4 ? 'aws_secret_access_key' : null;
  }
  if (/\s/.test(v) || NOT_SECRET_WORD.test(v) || NOT_SECRET_SHAPE.test(v) || isPlaceholder(v) || isUuid(v))
    return null;
  if (kind === KeyKind.Password) {
    if (len > 128 || v.startsWith('$')) return null;
    return charClasses(v) >= 2 || len >= 12 ? 'generic_api_key' : null;
  }
  if (len < 16 || !SECRET_CHARS.test(v)) return null;
  if (shannonEntropy(v) < 3.3 || charClasses(v) < 2) return null;
  return 'generic_api_key';
}
