import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import {
  classesOf,
  createScanner,
  maskValue,
  pathSegment,
  type DlpConfig,
  type DlpFinding,
} from '../../dlp/index.js';
import { EXIT, UsageError } from '../exit-codes.js';
import { printJson, processIo, reportError, table, type Io } from '../output.js';

interface ScanOptions {
  json?: boolean;
  /** A gateway config file whose `dlp:` block adds custom detectors and the allowlist. */
  config?: string;
}

async function readInput(file: string | undefined): Promise<{ text: string; name: string }> {
  if (file !== undefined && file !== '-') return { text: await readFile(file, 'utf8'), name: file };
  if (process.stdin.isTTY)
    throw new UsageError('give a FILE to scan, or pipe the input in (dlp scan - < file)');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return { text: Buffer.concat(chunks).toString('utf8'), name: 'stdin' };
}

async function readDlpConfig(file: string | undefined): Promise<DlpConfig | undefined> {
  if (file === undefined) return undefined;
  const doc = parseYaml(await readFile(file, 'utf8')) as { dlp?: DlpConfig } | null;
  return doc?.dlp;
}

/** The string at a JSONPath the scanner produced, found by walking the same value (no path parsing). */
function stringsByPath(value: unknown, wanted: ReadonlySet<string>): Map<string, string> {
  const found = new Map<string, string>();
  const walk = (node: unknown, path: string): void => {
    if (typeof node === 'string') {
      if (wanted.has(path)) found.set(path, node);
    } else if (Array.isArray(node)) node.forEach((v, i) => walk(v, path + pathSegment(i)));
    else if (node !== null && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) walk(v, path + pathSegment(k));
    }
  };
  walk(value, '$');
  return found;
}

function lineCol(text: string, offset: number): string {
  let line = 1;
  let last = -1;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    last = i;
  }
  return `line ${line}:${offset - last}`;
}

/**
 * `countersign dlp scan [FILE|-]`: a document that parses as JSON is scanned as JSON (findings carry
 * JSONPaths), anything else as plain text (path `$`, offsets into the text). Findings are data, not
 * failures: the exit code is 0 with or without them, 1 when the input cannot be read, 2 on bad usage.
 */
export async function dlpScanCommand(
  file: string | undefined,
  opts: ScanOptions,
  io: Io = processIo,
): Promise<number> {
  try {
    const scanner = createScanner(await readDlpConfig(opts.config));
    const { text, name } = await readInput(file);
    let json: { value: unknown } | null = null;
    try {
      json = { value: JSON.parse(text) as unknown };
    } catch {
      json = null;
    }
    const findings = json ? scanner.scanJson(json.value) : scanner.scanText(text);
    if (opts.json) {
      printJson(io, { findings });
      return EXIT.APPROVED;
    }
    if (findings.length === 0) {
      io.out(`No findings in ${name}.`);
      return EXIT.APPROVED;
    }
    const strings = json ? stringsByPath(json.value, new Set(findings.map((f) => f.path))) : null;
    const valueOf = (f: DlpFinding) => (strings ? (strings.get(f.path) ?? '') : text);
    io.out(
      table([
        ['SEVERITY', 'CLASS', 'TYPE', 'WHERE', 'VALUE (MASKED)'],
        ...findings.map((f) => [
          f.severity,
          f.class,
          f.type,
          json ? `${f.path} [${f.start}:${f.end}]` : `${lineCol(text, f.start)} [${f.start}:${f.end}]`,
          maskValue(valueOf(f).slice(f.start, f.end), [{ start: 0, end: f.end - f.start, type: f.type }]),
        ]),
      ]),
    );
    const counts = classesOf(findings).map((c) => `${findings.filter((f) => f.class === c).length} ${c}`);
    io.out(
      `\n${findings.length} finding${findings.length === 1 ? '' : 's'} in ${name} (${counts.join(', ')}).`,
    );
    return EXIT.APPROVED;
  } catch (err) {
    return reportError(io, err, Boolean(opts.json));
  }
}

export function registerDlpCommands(program: Command): void {
  const dlp = program.command('dlp').description('Data loss prevention: find secrets and personal data');
  dlp
    .command('scan')
    .description(
      'Scan a JSON document (findings by JSONPath) or plain text (by offset); exits 0 with or without findings',
    )
    .argument('[file]', 'file to scan; - or nothing reads stdin')
    .option('--config <file>', 'gateway config file whose dlp: block adds custom detectors and the allowlist')
    .option('--json', 'print {"findings": [{"type", "severity", "class", "path", "start", "end"}]}')
    .action(async (file: string | undefined, opts: ScanOptions) => {
      process.exitCode = await dlpScanCommand(file, opts);
    });
}
