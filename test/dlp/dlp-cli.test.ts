import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dlpScanCommand } from '../../src/cli/commands/dlp.js';
import type { Io } from '../../src/cli/output.js';

const AWS_ID = 'AKIAQX4ZV7WN2MBK5RTY';

function capture(): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, isTTY: false, out: (t) => void stdout.push(t), err: (t) => void stderr.push(t) };
}

describe('countersign dlp scan', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dlp-cli-'));

  it('scans JSON by path and prints the documented --json shape', async () => {
    const file = join(dir, 'req.json');
    writeFileSync(file, JSON.stringify({ creds: { 'aws-key': AWS_ID } }));
    const io = capture();
    expect(await dlpScanCommand(file, { json: true }, io)).toBe(0);
    expect(JSON.parse(io.stdout.join(''))).toEqual({
      findings: [
        {
          type: 'aws_access_key_id',
          severity: 'high',
          class: 'secret',
          path: "$.creds['aws-key']",
          start: 0,
          end: 20,
        },
      ],
    });
  });

  it('scans text by offset and masks values in human output', async () => {
    const file = join(dir, 'log.txt');
    writeFileSync(file, `line one\nkey ${AWS_ID} and alice.smith@acme-corp.io\n`);
    const io = capture();
    expect(await dlpScanCommand(file, {}, io)).toBe(0);
    const out = io.stdout.join('\n');
    expect(out).toContain('AKIA…[aws_access_key_id]');
    expect(out).toContain('line 2:5');
    expect(out).toContain('2 findings');
    expect(out).not.toContain(AWS_ID);
  });

  it('exits 0 without findings and 1 on an unreadable file', async () => {
    const clean = join(dir, 'clean.txt');
    writeFileSync(clean, 'nothing to see');
    const io = capture();
    expect(await dlpScanCommand(clean, {}, io)).toBe(0);
    expect(io.stdout.join('')).toContain('No findings');
    const io2 = capture();
    expect(await dlpScanCommand(join(dir, 'missing.json'), { json: true }, io2)).toBe(1);
    expect(JSON.parse(io2.stdout.join('')).error.code).toBe('ERROR');
  });
});
