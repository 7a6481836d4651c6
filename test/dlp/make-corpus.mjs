#!/usr/bin/env node
// Generates the labeled DLP corpus (test/dlp/corpus/*.jsonl): `node test/dlp/make-corpus.mjs`.
// Every secret here is synthetic — random characters in the right shape from a seeded generator —
// so the files are reproducible and no real credential is ever involved.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const OUT = join(dirname(fileURLToPath(import.meta.url)), 'corpus');

// mulberry32: small, seeded, good enough for test data.
let seed = 0x5eed1234;
function rand() {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = (arr) => arr[Math.floor(rand() * arr.length)];
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const DIGITS = '0123456789';
const ALNUM = UPPER + LOWER + DIGITS;
const B64 = ALNUM + '+/';
const B64URL = ALNUM + '-_';
const HEX = '0123456789abcdef';
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
// No run of 6 repeated or consecutive characters, and none of the placeholder words: a random string that
// happened to look like `abcdef` would be a bad test of anything.
function str(alphabet, n) {
  for (;;) {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(rand() * alphabet.length)];
    if (
      !/example|your|xxxx|placeholder|redacted|dummy|sample|changeme|insert|replace|fake|foobar|todo|lorem/i.test(
        s,
      )
    )
      return s;
  }
}
const b64url = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');

function luhnComplete(partial) {
  let sum = 0;
  for (let i = 0; i < partial.length; i++) {
    let d = Number(partial[partial.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return partial + ((10 - (sum % 10)) % 10);
}
function card(prefix, length) {
  return luhnComplete(prefix + str(DIGITS, length - prefix.length - 1));
}
function mod97(s) {
  let r = 0;
  for (const ch of s) {
    const v = /[0-9]/.test(ch) ? ch : String(ch.charCodeAt(0) - 55);
    for (const d of v) r = (r * 10 + Number(d)) % 97;
  }
  return r;
}
function iban(country, bban) {
  const check = 98 - mod97(bban + country + '00');
  return country + String(check).padStart(2, '0') + bban;
}
const IBAN_SHAPES = {
  DE: () => str(DIGITS, 18),
  GB: () => str(UPPER, 4) + str(DIGITS, 14),
  FR: () => str(DIGITS, 10) + str(ALNUM.slice(0, 36).toUpperCase(), 11) + str(DIGITS, 2),
  NL: () => str(UPPER, 4) + str(DIGITS, 10),
  ES: () => str(DIGITS, 20),
  IT: () => str(UPPER, 1) + str(DIGITS, 10) + str(DIGITS, 12),
  CH: () => str(DIGITS, 17),
  BE: () => str(DIGITS, 12),
  NO: () => str(DIGITS, 11),
  PL: () => str(DIGITS, 24),
};
const group4 = (s) => s.replace(/(.{4})/g, '$1 ').trim();

const FIRST = [
  'alice',
  'bob',
  'carol',
  'dmitri',
  'erin',
  'farah',
  'gustavo',
  'hana',
  'ivan',
  'jun',
  'kofi',
  'lena',
];
const LAST = [
  'smith',
  'nguyen',
  'garcia',
  'okafor',
  'muller',
  'rossi',
  'tanaka',
  'kowalski',
  'haddad',
  'silva',
];
const DOMAINS = [
  'acme-corp.io',
  'globex.com',
  'initech.net',
  'mail.umbrella.co.uk',
  'hooli.dev',
  'contoso.de',
  'wayne-ent.org',
];
const HOSTS = ['db.internal', 'redis.prod.svc', 'api.acme-corp.io', 'mq.globex.com', 'pg-main.hooli.dev'];

function validSsn() {
  let area;
  do area = int(1, 899);
  while (area === 666);
  return [
    String(area).padStart(3, '0'),
    String(int(1, 99)).padStart(2, '0'),
    String(int(1, 9999)).padStart(4, '0'),
  ];
}
function ip() {
  return `${pick([10, 172, 192, 203, 198, 52, 34, 8, 100, 81])}.${int(0, 255)}.${int(0, 255)}.${int(1, 254)}`;
}
function pem(label) {
  const lines = [];
  for (let i = 0; i < int(4, 12); i++) lines.push(str(B64, 64));
  lines.push(str(B64, int(8, 60)) + '==');
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----`;
}

// ---- positives: type -> list of text makers (each maker returns [text, extraTypes?]) ----
const P = {
  aws_access_key_id: () => {
    const k = pick(['AKIA', 'ASIA']) + str(BASE32, 16);
    return pick([
      `aws_access_key_id = ${k}`,
      `Found access key ${k} in the build log`,
      `{"AccessKeyId": "${k}"}`,
      `export AWS_ACCESS_KEY_ID=${k}`,
      `key=${k};`,
    ]);
  },
  aws_secret_access_key: () => {
    const k = str(B64, 40);
    return pick([
      `aws_secret_access_key = ${k}`,
      `export AWS_SECRET_ACCESS_KEY=${k}`,
      `"SecretAccessKey": "${k}"`,
      `AWS_SECRET_ACCESS_KEY: '${k}'`,
    ]);
  },
  github_token: () => {
    const k = pick([
      `${pick(['ghp', 'gho', 'ghu', 'ghs', 'ghr'])}_${str(ALNUM, 36)}`,
      `github_pat_${str(ALNUM, 22)}_${str(ALNUM, 59)}`,
    ]);
    return pick([
      `git clone https://${k}@github.com/acme/app.git`,
      `GITHUB_TOKEN=${k}`,
      `use ${k} for the release`,
      `Authorization: token ${k}`,
    ]);
  },
  gitlab_token: () => {
    const k = `${pick(['glpat', 'glptt', 'gldt'])}-${str(B64URL, 20)}`;
    return pick([
      `PRIVATE-TOKEN: ${k}`,
      `gitlab token ${k} expires soon`,
      `CI_JOB_TOKEN=${k}`,
      `"token": "${k}"`,
    ]);
  },
  slack_token: () => {
    const k = pick([
      `xoxb-${str(DIGITS, 12)}-${str(DIGITS, 13)}-${str(ALNUM, 24)}`,
      `xoxp-${str(DIGITS, 12)}-${str(DIGITS, 12)}-${str(DIGITS, 13)}-${str(HEX, 32)}`,
    ]);
    return pick([`SLACK_BOT_TOKEN=${k}`, `slack client init with ${k}`, `{"slack": "${k}"}`]);
  },
  slack_webhook_url: () => {
    const u = `https://hooks.slack.com/services/T${str(UPPER + DIGITS, 8)}/B${str(UPPER + DIGITS, 10)}/${str(ALNUM, 24)}`;
    return pick([`webhook: ${u}`, `curl -X POST ${u} -d @msg.json`, `notify via ${u}`]);
  },
  stripe_secret_key: () => {
    const k = `${pick(['sk_live', 'rk_live', 'sk_test'])}_${str(ALNUM, pick([24, 34, 99]))}`;
    return pick([`STRIPE_KEY=${k}`, `stripe.api_key = "${k}"`, `charged with ${k}`]);
  },
  google_api_key: () => {
    const k = `AIza${str(B64URL, 35)}`;
    return pick([
      `https://maps.googleapis.com/maps/api/js?key=${k}`,
      `GOOGLE_API_KEY=${k}`,
      `firebase apiKey ${k}`,
    ]);
  },
  openai_api_key: () => {
    const k = pick([
      `sk-proj-${str(B64URL, 120)}`,
      `sk-${str(ALNUM, 20)}T3BlbkFJ${str(ALNUM, 20)}`,
      `sk-svcacct-${str(B64URL, 64)}`,
    ]);
    return pick([`OPENAI_API_KEY=${k}`, `client = OpenAI(api_key="${k}")`, `the key ${k} leaked`]);
  },
  anthropic_api_key: () => {
    const k = `sk-ant-${pick(['api03', 'admin01'])}-${str(B64URL, 93)}AA`;
    return pick([`ANTHROPIC_API_KEY=${k}`, `x-api-key: ${k}`, `anthropic key ${k}`]);
  },
  private_key: () => {
    const k = pem(
      pick([
        'RSA PRIVATE KEY',
        'PRIVATE KEY',
        'EC PRIVATE KEY',
        'OPENSSH PRIVATE KEY',
        'ENCRYPTED PRIVATE KEY',
        'DSA PRIVATE KEY',
      ]),
    );
    return pick([`here is the deploy key:\n${k}\n`, k, `ssh_key: |\n${k}`]);
  },
  jwt: () => {
    const t = `${b64url({ alg: pick(['HS256', 'RS256', 'ES256', 'EdDSA']), typ: 'JWT' })}.${b64url({ sub: str(ALNUM, 12), iat: int(1.6e9, 1.8e9), role: pick(['admin', 'user']) })}.${str(B64URL, 43)}`;
    return pick([`Authorization: Bearer ${t}`, `session=${t}; Path=/`, `decoded ${t} ok`]);
  },
  password_in_url: () => {
    const pw = str(ALNUM + '!*', int(10, 20));
    const u = `${pick(['postgres', 'mysql', 'redis', 'amqp', 'https', 'mongodb+srv'])}://${pick(['admin', 'app', 'svc_user', 'deploy'])}:${pw}@${pick(HOSTS)}:${int(1000, 9999)}/app`;
    return pick([`DATABASE_URL=${u}`, `connecting to ${u}`, `"dsn": "${u}"`]);
  },
  generic_api_key: () => {
    const v = str(ALNUM, int(24, 40));
    return pick([
      `API_KEY=${v}`,
      `client_secret: "${v}"`,
      `"auth_token": "${v}"`,
      `secret_key = '${v}'`,
      `X-Api-Key: ${v}`,
      `db_password=${str(ALNUM, 14)}`,
      `{"apiKey": "${v}"}`,
    ]);
  },
  email: () => {
    const e = `${pick(FIRST)}${pick(['.', '_', ''])}${pick(LAST)}${pick(['', String(int(1, 99))])}@${pick(DOMAINS)}`;
    return pick([`contact ${e} for access`, `From: ${e}`, `{"owner": "${e}"}`, `mailto:${e}`, `cc <${e}>`]);
  },
  phone_number: () => {
    const n = pick([
      `+1 ${int(201, 989)} ${int(200, 999)} ${str(DIGITS, 4)}`,
      `+44 20 ${int(7000, 8999)} ${str(DIGITS, 4)}`,
      `(${int(201, 989)}) ${int(200, 999)}-${str(DIGITS, 4)}`,
      `${int(201, 989)}-${int(200, 999)}-${str(DIGITS, 4)}`,
      `+49 30 ${str(DIGITS, 8)}`,
      `+33 1 ${str(DIGITS, 2)} ${str(DIGITS, 2)} ${str(DIGITS, 2)} ${str(DIGITS, 2)}`,
      `${int(201, 989)}.${int(200, 999)}.${str(DIGITS, 4)}`,
    ]);
    return pick([
      `call me at ${n}`,
      `phone: ${n}`,
      `{"mobile": "${n}"}`,
      `customer reachable on ${n} after 5pm`,
    ]);
  },
  credit_card: () => {
    const [prefix, len] = pick([
      ['4', 16],
      ['51', 16],
      ['55', 16],
      ['2221', 16],
      ['34', 15],
      ['37', 15],
      ['6011', 16],
      ['3530', 16],
      ['4', 13],
    ]);
    const c = card(prefix, len);
    const shown =
      len === 16 && rand() < 0.5
        ? c.replace(/(\d{4})(?=\d)/g, `$1${pick([' ', '-'])}`)
        : len === 15 && rand() < 0.5
          ? `${c.slice(0, 4)} ${c.slice(4, 10)} ${c.slice(10)}`
          : c;
    return pick([
      `card ${shown} exp 09/27`,
      `pan=${shown}`,
      `{"card_number": "${shown}"}`,
      `refund to ${shown}`,
    ]);
  },
  iban: () => {
    const country = pick(Object.keys(IBAN_SHAPES));
    const i = iban(country, IBAN_SHAPES[country]());
    const shown = rand() < 0.5 ? group4(i) : i;
    return pick([`IBAN: ${shown}`, `wire to ${shown} today`, `{"iban": "${shown}"}`]);
  },
  us_ssn: () => {
    const [a, g, s] = validSsn();
    return pick([
      `SSN ${a}-${g}-${s}`,
      `applicant ${a}-${g}-${s} verified`,
      `ssn: ${a}${g}${s}`,
      `Social Security number ${a} ${g} ${s}`,
    ]);
  },
  ipv4: () => {
    const a = ip();
    return pick([
      `connecting to ${a}:5432`,
      `client ${a} - - [12/Mar/2025] "GET /"`,
      `{"remote_addr": "${a}"}`,
      `allow from ${a}/32`,
    ]);
  },
};

// ---- hard negatives ----
const uuid = () => `${str(HEX, 8)}-${str(HEX, 4)}-4${str(HEX, 3)}-a${str(HEX, 3)}-${str(HEX, 12)}`;
function badLuhn() {
  const c = card(pick(['4', '51', '6011']), 16);
  return c.slice(0, 15) + ((Number(c[15]) + int(1, 9)) % 10);
}
function badIban() {
  const country = pick(Object.keys(IBAN_SHAPES));
  const i = iban(country, IBAN_SHAPES[country]());
  const check = (Number(i.slice(2, 4)) + int(1, 50)) % 97;
  return i.slice(0, 2) + String(check).padStart(2, '0') + i.slice(4);
}
const N = [
  () => `request id ${uuid()}`,
  () => `{"trace_id": "${uuid()}", "span": "${str(HEX, 16)}"}`,
  () => `commit ${str(HEX, 40)} merged into main`,
  () => `git checkout ${str(HEX, 7)}`,
  () => `sha256:${str(HEX, 64)}`,
  () => `"checksum": "${str(HEX, 64)}"`,
  () => `etag: "${str(HEX, 32)}"`,
  () => `data: ${str(B64, int(60, 200))}=`,
  () => `image/png;base64,${str(B64, 120)}`,
  () => `card ${badLuhn()} declined`,
  () => `order number ${card('12', 16)}`,
  () => `IBAN ${badIban()}`,
  () =>
    `SSN ${pick(['000', '666', String(int(900, 999))])}-${String(int(1, 99)).padStart(2, '0')}-${str(DIGITS, 4)}`,
  () => `ssn ${String(int(1, 665)).padStart(3, '0')}-00-${str(DIGITS, 3)}1`,
  () => `id ${String(int(1, 665)).padStart(3, '0')}-${String(int(10, 99))}-0000`,
  () => `running version ${int(1, 9)}.${int(0, 20)}.${int(0, 20)}.${int(0, 99)}`,
  () => `upgraded to v${int(1, 9)}.${int(0, 9)}.${int(0, 9)}.${int(0, 9)}`,
  () => `OID 1.3.6.1.4.1.${int(100, 60000)}`,
  () => `bad address ${int(256, 999)}.${int(0, 255)}.${int(0, 255)}.${int(0, 255)}`,
  () => `netmask 255.255.${pick([0, 128, 240, 255])}.0`,
  () => `listen on 0.0.0.0:${int(1000, 9000)}`,
  () =>
    pick([
      'API_KEY=<YOUR_API_KEY>',
      'api_key: "YOUR_API_KEY_HERE"',
      'export OPENAI_API_KEY=sk-...',
      'token: <token>',
      'password: ${DB_PASSWORD}',
      'secret: {{ .Values.secret }}',
    ]),
  () =>
    pick([
      'ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
      'ghp_<your-token-here>',
      'sk_live_xxxxxxxxxxxxxxxxxxxxxxxx',
    ]),
  () =>
    pick([
      'password = "changeme"',
      'API_KEY=xxxxxxxxxxxxxxxx',
      'token=REDACTED',
      'client_secret: "********"',
      'password: password',
      'DB_PASSWORD=',
    ]),
  () =>
    pick([
      'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.',
      'The keyboard shortcut to open the secret menu is Ctrl+K.',
      'Please reset your password using the link we sent.',
      'max_tokens: 4096, temperature 0.7',
      'The primary key of the table is (tenant_id, id).',
      'Token bucket refill rate: 100 per second.',
    ]),
  () =>
    pick([
      'const secret = process.env.SECRET;',
      'apiKey = config.get("api_key")',
      'password = os.environ["DB_PASSWORD"]',
      'let token = await getToken(user);',
      'if (key == null) throw new Error("no key");',
      'def rotate_secret(secret_name): return client.rotate(secret_name)',
    ]),
  () => `secret_name: prod/db/${pick(['password', 'api-key', 'token'])}`,
  () => `"token_type": "Bearer", "expires_in": ${int(600, 7200)}`,
  () => `npm install lodash@4.17.${int(1, 21)} @types/node`,
  () => `git@github.com:acme/${pick(['app', 'infra', 'web'])}.git`,
  () => `icon@2x.png and logo@3x.png`,
  () => `ping @${pick(FIRST)} on slack`,
  () => `-----BEGIN PUBLIC KEY-----\n${str(B64, 64)}\n${str(B64, 40)}==\n-----END PUBLIC KEY-----`,
  () => `-----BEGIN CERTIFICATE-----\n${str(B64, 64)}\n${str(B64, 64)}\n-----END CERTIFICATE-----`,
  () => `-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----`,
  () => `eyJ${str(B64URL, 20)}.eyJ${str(B64URL, 30)}.${str(B64URL, 20)}`,
  () => `pk_live_${str(ALNUM, 24)}`,
  () =>
    `published at ${int(2019, 2025)}-${String(int(1, 12)).padStart(2, '0')}-${String(int(1, 28)).padStart(2, '0')}T10:${int(10, 59)}:00Z`,
  () => `epoch ${int(1600000000, 1800000000)} ms ${int(1600000000, 1800000000)}${str(DIGITS, 3)}`,
  () => `ISBN 978-${int(0, 9)}-${int(10, 99)}-${int(100000, 999999)}-${int(0, 9)}`,
  () => `invoice ${int(100000000, 999999999)} total $${int(10, 999)}.${int(10, 99)}`,
  () => `tracking ${str(UPPER, 2)}${str(DIGITS, 9)}${str(UPPER, 2)}`,
  () => `sk-learn pipeline and risk-adjusted returns`,
  () => `https://api.acme-corp.io:8443/v1/items?page=${int(1, 9)}`,
  () => `redis://${pick(HOSTS)}:6379/0`,
  () => `postgres://app@${pick(HOSTS)}/db`,
  () => `https://user:password@example.com/path`,
  () => `coordinates 52.${str(DIGITS, 4)}, 13.${str(DIGITS, 4)}`,
  () => `temperature +${int(10, 40)}.${int(0, 9)} C, pressure 1013 hPa`,
  () => `price list: 1299.00 2499.00 3999.00 4999.00`,
  () => `"session_id": "${str(HEX, 32)}"`,
  () => `cache_key=${str(HEX, 40)}`,
  () => `SELECT * FROM users WHERE id = ${int(1, 99999)} AND status = 'active';`,
];

const lines = (rows) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
const positives = [];
for (const [type, make] of Object.entries(P))
  for (let i = 0; i < 20; i++) positives.push({ text: make(), expect: [type] });
// JSON documents: the detector gets the member name, as it does for request parameters.
for (let i = 0; i < 10; i++) {
  positives.push({
    json: { config: { api_key: str(ALNUM, 32), region: 'eu-west-1' } },
    expect: ['generic_api_key'],
  });
  positives.push({
    json: { db: { password: str(ALNUM, 16), host: pick(HOSTS) } },
    expect: ['generic_api_key'],
  });
  positives.push({ json: { aws: { secret_access_key: str(B64, 40) } }, expect: ['aws_secret_access_key'] });
}
// The values people test a scanner with are reported like real ones: AWS's documentation key pair,
// addresses at RFC 2606's example domains, 123-45-6789, a made-up token of the right format.
positives.push(
  { text: 'AKIAIOSFODNN7EXAMPLE', expect: ['aws_access_key_id'] },
  {
    json: { aws_secret_access_key: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
    expect: ['aws_secret_access_key'],
  },
  { text: 'contact jane.doe@example.com for access', expect: ['email'] },
  { json: { customer: { email: 'john.smith@example.org' } }, expect: ['email'] },
  { text: 'SSN 123-45-6789 on file', expect: ['us_ssn'] },
  { text: 'token ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789', expect: ['github_token'] },
);
const negatives = [];
for (let i = 0; i < 6; i++) for (const make of N) negatives.push({ text: make(), expect: [] });
for (let i = 0; i < 10; i++) {
  negatives.push({ json: { commit: str(HEX, 40), tree: str(HEX, 40), id: uuid() }, expect: [] });
  negatives.push({
    json: {
      api_key_name: 'prod-billing',
      token_url: 'https://auth.acme-corp.io/token',
      secret_ref: 'vault:kv/app',
    },
    expect: [],
  });
}

writeFileSync(join(OUT, 'positives.jsonl'), lines(positives));
writeFileSync(join(OUT, 'negatives.jsonl'), lines(negatives));
console.log(`wrote ${positives.length} positives and ${negatives.length} negatives to ${OUT}`);
