/**
 * Worker threads that run a TypeScript module of src/ under vitest.
 *
 * Under vitest the sources are TypeScript, which a worker thread of Node 20 cannot load. So the entry
 * module and the project modules it imports are transpiled here (TypeScript's transpileModule, as the
 * build would, one file at a time) into a cache folder inside node_modules, laid out as in the project,
 * and the worker starts the transpiled entry as plain JavaScript: packages resolve from the project's
 * node_modules as usual, and a worker boots as fast as one of the build's. The folder is named by a hash
 * of what it holds, so test processes running side by side share it, and an edited source gets a new one.
 * The compiled build starts its workers from dist/ directly, so this is for tests only.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CACHE = join(ROOT, 'node_modules', '.cache', 'countersign-ts-worker');

/** Transpiles a module and the project modules it imports, keyed by path relative to the project. */
function transpileClosure(entry: URL): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (url: URL) => {
    const path = relative(ROOT, fileURLToPath(url)).replace(/\.ts$/, '.js');
    if (out.has(path)) return;
    const source = readFileSync(url, 'utf8');
    out.set(
      path,
      ts.transpileModule(source, {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      }).outputText,
    );
    for (const [, spec] of source.matchAll(/from '(\.[^']+)\.js'/g)) visit(new URL(`${spec!}.ts`, url));
  };
  visit(entry);
  return out;
}

/** Writes the transpiled files (each atomically: written aside, then renamed) and returns the folder. */
function writeClosure(files: Map<string, string>): string {
  const hash = createHash('sha256');
  for (const [path, code] of [...files].sort(([a], [b]) => a.localeCompare(b)))
    hash.update(`${path}\0${code}\0`);
  const dir = join(CACHE, hash.digest('hex').slice(0, 16));
  for (const [path, code] of files) {
    const file = join(dir, path);
    if (existsSync(file)) continue;
    mkdirSync(dirname(file), { recursive: true });
    const aside = `${file}.${process.pid}.tmp`;
    writeFileSync(aside, code);
    renameSync(aside, file);
  }
  return dir;
}

/**
 * A function that starts a worker thread running `entry` (a .ts file of src/), with `data` as its
 * `workerData`. The entry and what it imports are transpiled once, when this is called.
 */
export function tsWorker(entry: URL): (data?: Record<string, unknown>) => Worker {
  const dir = writeClosure(transpileClosure(entry));
  const script = pathToFileURL(join(dir, relative(ROOT, fileURLToPath(entry)).replace(/\.ts$/, '.js')));
  return (data = {}) => new Worker(script, { workerData: data });
}
