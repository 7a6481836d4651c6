import { isAlnum, isTokenChar, standsAlone } from './chars.js';
import type { BuiltinDetector, Hit, Lead } from './detector.js';
import {
  isPlaceholder,
  isTemplatePlaceholder,
  jwtHeaderValid,
  jwtPayloadValid,
  shannonEntropy,
} from './validators.js';

const isAlnumOrUnderscore = (c: number) => isAlnum(c) || c === 95;

function set(hit: Hit, type: string, start: number, end: number, resume = end): true {
  hit.type = type;
  hit.start = start;
  hit.end = end;
  hit.resume = resume;
  return true;
}

/**
 * A token with a fixed prefix: it must stand alone, its random part (after `prefixLength`) must not be
 * a template placeholder and must reach `minEntropy` bits per character.
 */
function prefixed(
  type: string,
  trigger: string,
  lead: Lead,
  pattern: string,
  prefixLength: number,
  minEntropy: number,
  inner: (c: number) => boolean = isTokenChar,
): BuiltinDetector {
  return {
    type,
    trigger,
    lead,
    pattern,
    confirm(text, start, end, hit) {
      if (!standsAlone(text, start, end, inner)) return false;
      if (isTemplatePlaceholder(text, start + prefixLength, end)) return false;
      if (shannonEntropy(text, start + prefixLength, end) < minEntropy) return false;
      return set(hit, type, start, end);
    },
  };
}

const PEM_BEGIN = '-----BEGIN ';
const PEM_BODY = /[A-Za-z0-9+/=\s:,\\-]*/y;

function pemBodyEnd(text: string, from: number): number {
  PEM_BODY.lastIndex = from;
  PEM_BODY.exec(text);
  return PEM_BODY.lastIndex;
}

/** PEM private keys: BEGIN/END framing with a matching label and a base64 body; a cut-off key counts too. */
const privateKey: BuiltinDetector = {
  type: 'private_key',
  trigger: '-----BEGIN ',
  lead: { first: '-', second: '-' },
  pattern: '-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----',
  confirm(text, start, end, hit) {
    const label = text.slice(start + PEM_BEGIN.length, end - 5);
    const footer = `-----END ${label}-----`;
    const close = text.indexOf(footer, end);
    const bodyEnd = close >= 0 ? close : pemBodyEnd(text, end);
    let base64 = 0;
    for (let i = end; i < bodyEnd; i++) {
      const c = text.charCodeAt(i);
      if (isAlnum(c) || c === 43 || c === 47) base64++;
      else if (c === 46 || c === 60) return false; // `...` or `<key>`: a placeholder body
    }
    if (close >= 0) return base64 >= 40 ? set(hit, 'private_key', start, close + footer.length) : false;
    return base64 >= 64 ? set(hit, 'private_key', start, bodyEnd) : false;
  },
};

/** JWS compact form whose header decodes to a JSON object with `alg` and whose payload is a JSON object. */
const jwt: BuiltinDetector = {
  type: 'jwt',
  trigger: 'eyJ',
  lead: { first: 'e', second: 'y' },
  pattern: 'eyJ[A-Za-z0-9_-]{5,}\\.eyJ[A-Za-z0-9_-]{5,}\\.[A-Za-z0-9_-]*',
  confirm(text, start, end, hit) {
    if (!standsAlone(text, start, end, (c) => isTokenChar(c) || c === 46)) return false;
    const dot1 = text.indexOf('.', start);
    const dot2 = text.indexOf('.', dot1 + 1);
    if (!jwtHeaderValid(text.slice(start, dot1)) || !jwtPayloadValid(text.slice(dot1 + 1, dot2)))
      return false;
    return set(hit, 'jwt', start, end);
  },
};

const PASSWORD_PLACEHOLDERS = /^(?:pass|password|passwd|pwd|secret|\*+|x+|\.+)$/i;

/** `scheme://user:password@host`: the finding is the password, so the user and host stay readable. */
const passwordInUrl: BuiltinDetector = {
  type: 'password_in_url',
  trigger: '://',
  lead: { first: ':', second: '/' },
  pattern: '://[^\\s/?#@:"\'<>]*:[^\\s/?#@"\'<>]+@',
  confirm(text, start, end, hit) {
    if (!isAlnum(text.charCodeAt(start - 1))) return false;
    const colon = text.indexOf(':', start + 3);
    const from = colon + 1;
    const to = end - 1;
    if (!isAlnum(text.charCodeAt(end)) && text.charCodeAt(end) !== 91) return false; // a host follows
    if (PASSWORD_PLACEHOLDERS.test(text.slice(from, to)) || isPlaceholder(text, from, to)) return false;
    return set(hit, 'password_in_url', from, to);
  },
};

/** hooks.slack.com URLs whose last path segment is a random secret. */
const slackWebhook: BuiltinDetector = {
  type: 'slack_webhook_url',
  trigger: 'https://hooks\\.slack\\.com/',
  lead: { first: 'h', second: 't' },
  pattern: 'https://hooks\\.slack\\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/-]+',
  confirm(text, start, end, hit) {
    const last = text.lastIndexOf('/', end - 1) + 1;
    if (end - last < 16 || text.slice(start, end).split('/').length < 6) return false;
    if (isTemplatePlaceholder(text, last, end) || shannonEntropy(text, last, end) < 3.3) return false;
    return set(hit, 'slack_webhook_url', start, end);
  },
};

/** Slack bot, user, app and refresh tokens: `xoxb-<team>-<bot>-<secret>`, `xapp-1-…`. */
const slackToken: BuiltinDetector = {
  type: 'slack_token',
  trigger: 'xox[abposre]-|xapp-',
  lead: { first: 'x', second: '[oa]' },
  pattern: 'xox[abposre]-[0-9]{6,}-[0-9A-Za-z-]{10,}|xapp-[0-9]-[A-Z0-9]{6,}-[0-9]{6,}-[A-Za-z0-9]{16,}',
  confirm(text, start, end, hit) {
    if (!standsAlone(text, start, end, isTokenChar) || end - start < 30) return false;
    const last = text.lastIndexOf('-', end - 1) + 1;
    if (isTemplatePlaceholder(text, last, end) || shannonEntropy(text, last, end) < 3) return false;
    return set(hit, 'slack_token', start, end);
  },
};

const SK_LEAD: Lead = { first: 's', second: 'k' };

export const SECRET_DETECTORS: readonly BuiltinDetector[] = [
  privateKey,
  jwt,
  prefixed(
    'aws_access_key_id',
    'A(?:KIA|SIA|BIA|CCA)',
    { first: 'A', second: '[KSBC]' },
    '(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}',
    4,
    2.8,
    isAlnum,
  ),
  prefixed(
    'github_token',
    'gh[pousr]_|github_pat_',
    { first: 'g', second: '[hi]' },
    'gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}',
    4,
    3.5,
    isAlnumOrUnderscore,
  ),
  prefixed(
    'gitlab_token',
    'gl(?:pat|dt|ptt|rt|soat|cbt|ft|imt|oas)-',
    { first: 'g', second: 'l' },
    'gl(?:pat|dt|ptt|rt|soat|cbt|ft|imt|oas)-[A-Za-z0-9_-]{20,}',
    6,
    3.3,
  ),
  slackWebhook,
  slackToken,
  prefixed(
    'stripe_secret_key',
    '[rs]k_(?:live|test)_',
    { first: '[rs]', second: 'k' },
    '[rs]k_(?:live|test)_[A-Za-z0-9]{24,}',
    8,
    3.5,
    isAlnumOrUnderscore,
  ),
  prefixed('google_api_key', 'AIza', { first: 'A', second: 'I' }, 'AIza[0-9A-Za-z_-]{35}', 4, 3.5),
  prefixed(
    'anthropic_api_key',
    'sk-',
    SK_LEAD,
    'sk-ant-(?:api|admin|oat|sid)[0-9]{2}-[A-Za-z0-9_-]{40,}',
    14,
    3.5,
  ),
  prefixed(
    'openai_api_key',
    'sk-',
    SK_LEAD,
    'sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,}|sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}',
    3,
    3.5,
  ),
  passwordInUrl,
];
