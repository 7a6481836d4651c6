/**
 * The checkpoint signing key: from config (`audit.signing_key`: the C2SP `PRIVATE+KEY+…` string,
 * `file:PATH` or `env:NAME`), else generated on first start into `<data_dir>/audit-signing.key` (0600)
 * with the origin as its key name, and read from there on every later start.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateSignerKey, signerFromPrivateKey, type NoteSigner } from './note.js';
import { resolveSecret } from './secret-ref.js';

export const SIGNING_KEY_FILE = 'audit-signing.key';

export interface LoadedSigningKey {
  signer: NoteSigner;
  /** Where it came from, for the start-up log (never the key itself). */
  source: 'config' | 'generated' | 'data_dir';
  path: string | null;
}

export async function loadSigningKey(
  opts: { signingKey: string | null; origin: string; dataDir: string },
  env: NodeJS.ProcessEnv = process.env,
): Promise<LoadedSigningKey> {
  if (opts.signingKey !== null) {
    const skey = await resolveSecret(opts.signingKey, 'audit.signing_key', env);
    return { signer: parseKey(skey, 'audit.signing_key'), source: 'config', path: null };
  }
  const path = join(opts.dataDir, SIGNING_KEY_FILE);
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  try {
    // 'wx': exactly one of two instances starting at once creates it; the other reads it below.
    await writeFile(path, `${generateSignerKey(opts.origin)}\n`, { mode: 0o600, flag: 'wx' });
    return { signer: parseKey(await readKey(path), path), source: 'generated', path };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return { signer: parseKey(await readKey(path), path), source: 'data_dir', path };
}

async function readKey(path: string): Promise<string> {
  return (await readFile(path, 'utf8')).trim();
}

function parseKey(skey: string, where: string): NoteSigner {
  try {
    return signerFromPrivateKey(skey);
  } catch (err) {
    throw new Error(`${where}: not a C2SP signed-note private key (PRIVATE+KEY+name+hash+key)`, {
      cause: err,
    });
  }
}
