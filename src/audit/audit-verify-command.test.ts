import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { auditVerifyOffline } from '../cli/commands/audit-verify.js';
import type { Io } from '../cli/output.js';
import { generateSignerKey, signerFromPrivateKey } from './note.js';
import { exportLines, signedCheckpoint, syntheticEvent } from './test-log.js';

function capture(isTTY = false) {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (t) => void out.push(t), err: (t) => void err.push(t), isTTY };
  return { io, out, err };
}

describe('countersign audit verify (offline)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'audit-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const signer = signerFromPrivateKey(generateSignerKey('cli.test/log'));
  const lines = exportLines(Array.from({ length: 30 }, (_, i) => syntheticEvent(i + 1)));
  const file = (name: string, text: string) => (writeFileSync(join(dir, name), text), join(dir, name));
  const events = file('events.jsonl', lines.map((l) => `${l}\n`).join(''));
  const checkpoint = file('checkpoint.txt', signedCheckpoint('cli.test/log', lines, signer));
  const old = file('old.txt', signedCheckpoint('cli.test/log', lines.slice(0, 10), signer));
  const keyFile = file('key.pub', `${signer.verifierKey}\n`);

  it('exits 0 on a valid export, with the key as a string or a file, and shows progress on a terminal', async () => {
    const a = capture(true);
    expect(
      await auditVerifyOffline({ events, checkpoint, key: signer.verifierKey, oldCheckpoint: old }, a.io),
    ).toBe(0);
    expect(a.out[0]).toMatch(/^OK: 30 events verified against checkpoint cli.test\/log size 30/);
    expect(a.err.at(-1)).toMatch(/verifying… 30 events/);
    const b = capture();
    expect(await auditVerifyOffline({ events, checkpoint, key: keyFile, json: true }, b.io)).toBe(0);
    expect(JSON.parse(b.out.join(''))).toMatchObject({ ok: true, events: 30, problems: [] });
  });

  it('exits 1 naming the problem on a tampered export', async () => {
    const tampered = file(
      'tampered.jsonl',
      lines
        .slice(0, 28)
        .map((l) => `${l}\n`)
        .join(''),
    );
    const c = capture();
    expect(await auditVerifyOffline({ events: tampered, checkpoint, key: signer.verifierKey }, c.io)).toBe(1);
    expect(c.out).toEqual([
      'INVALID: 1 problem in 28 events',
      '  [size] export has 28 events but the checkpoint covers 30: 2 events missing at the tail',
    ]);
  });

  it('exits 2 on bad usage', async () => {
    const c = capture();
    expect(await auditVerifyOffline({ events: join(dir, 'nope'), checkpoint, key: 'k' }, c.io)).toBe(2);
    expect(c.err[0]).toMatch(/--events: no such file/);
    expect(await auditVerifyOffline({ events, checkpoint: '', key: 'k' }, capture().io)).toBe(2);
  });
});
