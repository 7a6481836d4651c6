/** The audit's keys: the checkpoint signing key and the payload encryption keys, loaded or generated (0600). */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSigningKey, SIGNING_KEY_FILE } from '../../src/audit/keys-file.js';
import { generateSignerKey } from '../../src/audit/note.js';
import {
  loadPayloadKeyring,
  openPayload,
  PAYLOAD_KEYS_FILE,
  payloadSha256,
  sealPayload,
} from '../../src/audit/payload-crypto.js';
import { ConfigError, loadConfig } from '../../src/config/config.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'countersign-keys-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('checkpoint signing key', () => {
  it('is generated on first start into the data directory (0600), named for the origin, then reused', async () => {
    const data = join(dir, 'data');
    const first = await loadSigningKey({ signingKey: null, origin: 'example.com/log', dataDir: data });
    expect(first.source).toBe('generated');
    expect(first.signer.name).toBe('example.com/log');
    expect((await stat(join(data, SIGNING_KEY_FILE))).mode & 0o777).toBe(0o600);
    const again = await loadSigningKey({ signingKey: null, origin: 'example.com/log', dataDir: data });
    expect(again.source).toBe('data_dir');
    expect(again.signer.verifierKey).toBe(first.signer.verifierKey);
  });

  it('comes from config as the key itself, file:PATH or env:NAME', async () => {
    const skey = generateSignerKey('ops.example/audit');
    const file = join(dir, 'k');
    await writeFile(file, `${skey}\n`);
    for (const spec of [skey, `file:${file}`, 'env:CS_TEST_KEY']) {
      const loaded = await loadSigningKey(
        { signingKey: spec, origin: 'x', dataDir: dir },
        { CS_TEST_KEY: skey },
      );
      expect(loaded.source).toBe('config');
      expect(loaded.signer.name).toBe('ops.example/audit');
    }
    await expect(loadSigningKey({ signingKey: 'env:NOPE', origin: 'x', dataDir: dir }, {})).rejects.toThrow(
      /audit.signing_key: environment variable NOPE is not set/,
    );
    await expect(loadSigningKey({ signingKey: 'garbage', origin: 'x', dataDir: dir })).rejects.toThrow(
      /not a C2SP signed-note private key/,
    );
  });
});

describe('payload encryption', () => {
  const payload = { parameters: { password: 'hunter2', n: [1, 2] }, reason: 'why', context: { run: 1 } };

  it('round-trips, binds the ciphertext to its request, and detects tampering', async () => {
    const ring = await loadPayloadKeyring({ payloadKeys: [], payloadKeyId: null }, dir);
    expect((await stat(join(dir, PAYLOAD_KEYS_FILE))).mode & 0o777).toBe(0o600);
    const sealed = sealPayload(ring, 'req_1', payload);
    expect(sealed.sha256).toBe(payloadSha256(payload));
    expect(sealed.ciphertext.toString('utf8')).not.toContain('hunter2');
    expect(openPayload(ring, 'req_1', sealed)).toEqual(payload);
    expect(() => openPayload(ring, 'req_2', sealed)).toThrow(/failed authentication/);
    const flipped = Buffer.from(sealed.ciphertext);
    flipped[0] = (flipped[0] as number) ^ 1;
    expect(() => openPayload(ring, 'req_1', { ...sealed, ciphertext: flipped })).toThrow(
      /failed authentication/,
    );
    // The generated key is reused at the next start.
    const again = await loadPayloadKeyring({ payloadKeys: [], payloadKeyId: null }, dir);
    expect(openPayload(again, 'req_1', sealed)).toEqual(payload);
  });

  it('rotates: new payloads use the active id, old ids stay readable', async () => {
    const k1 = randomBytes(32).toString('base64');
    const k2 = randomBytes(32).toString('base64');
    const old = await loadPayloadKeyring({ payloadKeys: [{ id: 'k1', key: k1 }], payloadKeyId: null }, dir);
    const sealedOld = sealPayload(old, 'req_1', payload);
    const ring = await loadPayloadKeyring(
      {
        payloadKeys: [
          { id: 'k1', key: k1 },
          { id: 'k2', key: 'env:K2' },
        ],
        payloadKeyId: 'k2',
      },
      dir,
      { K2: k2 },
    );
    expect(sealPayload(ring, 'req_2', payload).keyId).toBe('k2');
    expect(openPayload(ring, 'req_1', sealedOld)).toEqual(payload);
    const k1Only = await loadPayloadKeyring(
      { payloadKeys: [{ id: 'k2', key: k2 }], payloadKeyId: null },
      dir,
    );
    expect(() => openPayload(k1Only, 'req_1', sealedOld)).toThrow(/payload key k1 is not configured/);
  });

  it('refuses bad key settings at start-up, naming the setting', async () => {
    const k = randomBytes(32).toString('base64');
    await expect(
      loadPayloadKeyring(
        {
          payloadKeys: [
            { id: 'a', key: k },
            { id: 'b', key: k },
          ],
          payloadKeyId: null,
        },
        dir,
      ),
    ).rejects.toThrow(/audit.payload_key_id must name the active key/);
    await expect(
      loadPayloadKeyring({ payloadKeys: [{ id: 'a', key: 'c2hvcnQ=' }], payloadKeyId: null }, dir),
    ).rejects.toThrow(/audit.payload_keys\[0\].key: an AES-256 key must be 32 bytes/);
    await expect(
      loadPayloadKeyring({ payloadKeys: [{ id: 'a', key: k }], payloadKeyId: 'zz' }, dir),
    ).rejects.toThrow(/names no key/);
  });
});

describe('audit config', () => {
  it('reads the audit section, with defaults and relative file: paths', async () => {
    const file = join(dir, 'countersign.yaml');
    await writeFile(
      file,
      [
        'audit:',
        '  origin: example.com/countersign',
        '  signing_key: file:keys/audit.key',
        '  checkpoint_every_events: 50',
        '  checkpoint_interval: 5m',
        '  payload_keys: [{ id: k1, key: "env:PAYLOAD_KEY" }]',
        '  payload_key_id: k1',
      ].join('\n'),
    );
    const config = await loadConfig(file, {});
    expect(config.audit).toEqual({
      origin: 'example.com/countersign',
      signingKey: `file:${join(dir, 'keys/audit.key')}`,
      checkpointEveryEvents: 50,
      checkpointIntervalMs: 300_000,
      payloadKeys: [{ id: 'k1', key: 'env:PAYLOAD_KEY' }],
      payloadKeyId: 'k1',
    });
    const defaults = (await loadConfig(null, {})).audit;
    expect(defaults).toMatchObject({
      signingKey: null,
      checkpointEveryEvents: 1000,
      checkpointIntervalMs: 60_000,
    });
    expect(defaults.origin).toMatch(/^countersign\//);
    await writeFile(file, 'audit:\n  checkpoint_interval: often\n');
    await expect(loadConfig(file, {})).rejects.toThrow(ConfigError);
    await writeFile(file, 'audit:\n  origin: "has space"\n');
    await expect(loadConfig(file, {})).rejects.toThrow(/audit.origin/);
    expect(await readFile(file, 'utf8')).toContain('origin');
  });
});
