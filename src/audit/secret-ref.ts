import { readFile } from 'node:fs/promises';

/**
 * Resolves a secret given in config as `env:NAME` (an environment variable), `file:PATH` (a file's
 * trimmed contents) or the value itself. Fails at start-up, naming the setting, when it cannot.
 */
export async function resolveSecret(
  spec: string,
  setting: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  if (spec.startsWith('env:')) {
    const name = spec.slice('env:'.length);
    const value = env[name];
    if (value === undefined || value.trim() === '') {
      throw new Error(`${setting}: environment variable ${name} is not set`);
    }
    return value.trim();
  }
  if (spec.startsWith('file:')) {
    const path = spec.slice('file:'.length);
    try {
      return (await readFile(path, 'utf8')).trim();
    } catch (err) {
      throw new Error(
        `${setting}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      );
    }
  }
  return spec.trim();
}
