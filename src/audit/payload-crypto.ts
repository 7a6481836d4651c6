/**
 * The full payload of a request (`{parameters, reason, context}`), encrypted at rest with AES-256-GCM
 * under a key with an id. New payloads use the active key; every configured id stays readable, so keys
 * rotate by adding one and making it active. The audit log carries only the payload's SHA-256.
 */
import { createCipheriv, createDecipheriv, createHash, hash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalJson } from '../core/digest.js';
import { randomBuffer } from '../core/random-pool.js';
import type { EncryptedPayload, PayloadToSeal } from '../store/store.js';
import { resolveSecret } from './secret-ref.js';

export interface RequestPayload {
  parameters: unknown;
  reason: string | null;
  context: Record<string, unknown>;
}

export interface PayloadKeyring {
  readonly activeId: string;
  readonly keys: ReadonlyMap<string, Buffer>;
}

/** Generated on first start when no key is configured; JSON `[{"id", "key": base64}]`, mode 0600. */
export const PAYLOAD_KEYS_FILE = 'audit-payload-keys.json';

const KEY_ID = /^[A-Za-z0-9_.-]{1,64}$/;

/** Hex SHA-256 of the payload's JCS form: what `request.submitted` carries as `payloadSha256`. */
export function payloadSha256(payload: RequestPayload): string {
  return createHash('sha256').update(canonicalJson(payload), 'utf8').digest('hex');
}

// Binds a ciphertext to its request and key: moved to another row, it no longer decrypts.
function aad(requestId: string, keyId: string): Buffer {
  return Buffer.from(`countersign-payload-v1\n${requestId}\n${keyId}`, 'utf8');
}

/** The key new payloads are sealed under: the keyring's active one. */
export interface ActivePayloadKey {
  id: string;
  key: Buffer;
}

export function activePayloadKey(keyring: PayloadKeyring): ActivePayloadKey {
  const key = keyring.keys.get(keyring.activeId);
  if (key === undefined) throw new Error(`payload key ${keyring.activeId} is not loaded`);
  return { id: keyring.activeId, key };
}

/** The payload's JCS text and its SHA-256: what is sealed, and what the audit event names. */
export function payloadToSeal(payload: RequestPayload): PayloadToSeal {
  const plaintext = canonicalJson(payload);
  return { plaintext, sha256: hash('sha256', plaintext, 'hex') };
}

/** Seals prepared text (see `payloadToSeal`) under `active`, bound to the request by the AAD. */
export function sealPrepared(
  active: ActivePayloadKey,
  requestId: string,
  p: PayloadToSeal,
): EncryptedPayload {
  const plain = Buffer.from(p.plaintext, 'utf8');
  // A fresh random 96-bit IV per payload (NIST SP 800-38D 8.2.2), from the CSPRNG pool.
  const iv = randomBuffer(12);
  const cipher = createCipheriv('aes-256-gcm', active.key, iv);
  cipher.setAAD(aad(requestId, active.id));
  // GCM is a stream mode: update() returns all of the ciphertext and final() nothing (then no concat).
  const head = cipher.update(plain);
  const tail = cipher.final();
  const ciphertext = tail.length === 0 ? head : Buffer.concat([head, tail]);
  return { keyId: active.id, iv, ciphertext, tag: cipher.getAuthTag(), sha256: p.sha256 };
}

export function sealPayload(
  keyring: PayloadKeyring,
  requestId: string,
  payload: RequestPayload,
): EncryptedPayload {
  return sealPrepared(activePayloadKey(keyring), requestId, payloadToSeal(payload));
}

/** Decrypts and checks the payload against its recorded SHA-256; throws, saying which check failed. */
export function openPayload(
  keyring: PayloadKeyring,
  requestId: string,
  sealed: EncryptedPayload,
): RequestPayload {
  const key = keyring.keys.get(sealed.keyId);
  if (key === undefined)
    throw new Error(`payload key ${sealed.keyId} is not configured (audit.payload_keys)`);
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.iv);
  decipher.setAAD(aad(requestId, sealed.keyId));
  decipher.setAuthTag(sealed.tag);
  let plain: Buffer;
  try {
    plain = Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]);
  } catch (err) {
    throw new Error(`payload of ${requestId} failed authentication (tampered, or the wrong key)`, {
      cause: err,
    });
  }
  if (createHash('sha256').update(plain).digest('hex') !== sealed.sha256) {
    throw new Error(`payload of ${requestId} does not match its recorded SHA-256`);
  }
  return JSON.parse(plain.toString('utf8')) as RequestPayload;
}

export interface PayloadKeyConfig {
  /** `{id, key}` with key `env:NAME`, `file:PATH` or base64 of 32 bytes. */
  payloadKeys: { id: string; key: string }[];
  /** The id new payloads are encrypted under; defaults to the only (or generated) key. */
  payloadKeyId: string | null;
}

/**
 * Loads the configured keys plus the one generated into the data directory (if any, so that payloads
 * written before keys were configured stay readable). With neither, generates one (0600).
 */
export async function loadPayloadKeyring(
  cfg: PayloadKeyConfig,
  dataDir: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<PayloadKeyring> {
  const keys = new Map<string, Buffer>();
  for (const [i, k] of cfg.payloadKeys.entries()) {
    const setting = `audit.payload_keys[${i}]`;
    if (!KEY_ID.test(k.id)) throw new Error(`${setting}.id must be 1-64 of A-Z a-z 0-9 _ . -, got ${k.id}`);
    if (keys.has(k.id)) throw new Error(`${setting}.id ${k.id} is listed twice`);
    keys.set(k.id, decodeKey(await resolveSecret(k.key, `${setting}.key`, env), `${setting}.key`));
  }
  const file = join(dataDir, PAYLOAD_KEYS_FILE);
  let generated = await readKeysFile(file);
  if (generated === null && keys.size === 0) generated = await createKeysFile(dataDir, file);
  for (const k of generated ?? []) if (!keys.has(k.id)) keys.set(k.id, decodeKey(k.key, file));

  let activeId = cfg.payloadKeyId;
  if (activeId === null) {
    if (cfg.payloadKeys.length > 1)
      throw new Error('audit.payload_key_id must name the active key of audit.payload_keys');
    activeId = cfg.payloadKeys[0]?.id ?? generated?.at(-1)?.id ?? null;
  }
  if (activeId === null || !keys.has(activeId)) {
    throw new Error(`audit.payload_key_id ${String(activeId)} names no key of audit.payload_keys`);
  }
  return { activeId, keys };
}

function decodeKey(text: string, where: string): Buffer {
  const key = Buffer.from(text, 'base64');
  if (key.length !== 32)
    throw new Error(`${where}: an AES-256 key must be 32 bytes in base64, got ${key.length} bytes`);
  return key;
}

async function readKeysFile(file: string): Promise<{ id: string; key: string }[] | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return JSON.parse(text) as { id: string; key: string }[];
}

async function createKeysFile(dataDir: string, file: string): Promise<{ id: string; key: string }[]> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const keys = [
    { id: `pk-${new Date().toISOString().slice(0, 10)}`, key: randomBytes(32).toString('base64') },
  ];
  try {
    await writeFile(file, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    return keys;
  } catch (err) {
    // Another instance starting at once created it first: use theirs.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return (await readKeysFile(file)) ?? [];
  }
}
