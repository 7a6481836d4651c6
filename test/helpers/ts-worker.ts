/**
 * Worker threads that run a TypeScript module of src/ under vitest.
 *
 * Under vitest the sources are TypeScript, which a worker thread of Node 20 cannot load, so these workers
 * start with module hooks that serve the entry module and the project modules it imports transpiled here
 * (TypeScript's transpileModule); packages load as usual. The compiled build starts its workers from
 * dist/ directly, so this is for tests only.
 */
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import ts from 'typescript';

/** Transpiles a module and the project modules it imports, keyed by file URL. */
function transpileClosure(entry: URL): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (url: URL) => {
    if (out[url.href] !== undefined) return;
    const source = readFileSync(url, 'utf8');
    out[url.href] = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    for (const [, spec] of source.matchAll(/from '(\.[^']+)\.js'/g)) visit(new URL(`${spec!}.ts`, url));
  };
  visit(entry);
  return out;
}

/** Module hooks for the worker: `./x.js` falls back to `./x.ts`, served already transpiled. */
const HOOKS = `
let sources = {};
export function initialize(data) { sources = data; }
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (err) {
    if (specifier.startsWith('.') && specifier.endsWith('.js')) return next(specifier.slice(0, -3) + '.ts', context);
    throw err;
  }
}
export async function load(url, context, next) {
  if (sources[url] === undefined) return next(url, context);
  return { format: 'module', source: sources[url], shortCircuit: true };
}`;

// The transpiled sources ride along in workerData under this key; the module itself sees its own data.
const SOURCES_KEY = '__countersignTestSources';

/**
 * A function that starts a worker thread running `entry` (a .ts file of src/), with `data` as its
 * `workerData`. The entry and what it imports are transpiled once, when this is called.
 */
export function tsWorker(entry: URL): (data?: Record<string, unknown>) => Worker {
  const sources = transpileClosure(entry);
  const boot = `
const { register } = await import('node:module');
const { workerData } = await import('node:worker_threads');
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(HOOKS)}), { data: workerData.${SOURCES_KEY} });
await import(${JSON.stringify(entry.href)});`;
  const code = `import(${JSON.stringify(`data:text/javascript,${encodeURIComponent(boot)}`)})`;
  return (data = {}) => new Worker(code, { eval: true, workerData: { ...data, [SOURCES_KEY]: sources } });
}
