import { describe, expect, it } from 'vitest';
import { readVector, vectorsAvailable } from '../../test/helpers/vectors.js';
import { CheckpointError, formatCheckpoint, parseCheckpoint } from './checkpoint.js';
import { EMPTY_ROOT } from './hash.js';
import { openNote, verifierFromKey } from './note.js';

interface BodyCase {
  desc: string;
  body: string;
  wantErr: boolean;
  want?: { origin: string; size: number; hash_utf8: string };
  wantRest?: string;
  c2sp_strict_wantErr?: boolean;
}

describe.skipIf(!vectorsAvailable('tlog/checkpoint_body.json'))('checkpoint body vectors', () => {
  const { cases } = readVector<{ cases: BodyCase[] }>('tlog/checkpoint_body.json');
  it.each(cases.map((c) => [c.desc, c] as const))('%s', (_desc, c) => {
    // The vectors use short fake hashes, so the 32-byte rule is off here (as in SOURCES.md's selftest).
    const parse = () => parseCheckpoint(c.body, { anyRootLength: true });
    if (c.wantErr || c.c2sp_strict_wantErr) {
      expect(parse).toThrow(CheckpointError);
      return;
    }
    const got = parse();
    expect(got.origin).toBe(c.want!.origin);
    expect(got.size).toBe(c.want!.size);
    expect(got.root.toString('utf8')).toBe(c.want!.hash_utf8);
    expect(got.extensions.map((l) => `${l}\n`).join('')).toBe(c.wantRest ?? '');
    // And with the 32-byte rule on, these short roots are refused.
    expect(() => parseCheckpoint(c.body)).toThrow(/32 bytes/);
  });
});

describe.skipIf(!vectorsAvailable('tlog/signed_note.json'))('real checkpoints', () => {
  const v = readVector<Record<string, any>>('tlog/signed_note.json');
  it('parses the sum.golang.org and C2SP example checkpoints', () => {
    for (const [key, c] of [
      ['sumdb', v.sumdb_checkpoint],
      ['c2sp', v.c2sp_checkpoint_example],
    ]) {
      const text =
        key === 'sumdb' ? openNote(c.note, [verifierFromKey(c.vkey)]).text : c.note.split('\n\n')[0] + '\n';
      const cp = parseCheckpoint(text);
      expect(cp).toMatchObject({ origin: c.expect.origin, size: c.expect.size, extensions: [] });
      expect(cp.root.toString('base64')).toBe(c.expect.root_b64);
      expect(formatCheckpoint(cp)).toBe(text);
    }
  });
});

describe('strictness', () => {
  const root = EMPTY_ROOT.toString('base64');
  it.each([
    ['leading zero in the size', `log\n012\n${root}\n`],
    ['size above 2^53', `log\n9007199254740993\n${root}\n`],
    ['empty extension line', `log\n1\n${root}\next\n\n`],
    ['16-byte root', `log\n1\n${EMPTY_ROOT.subarray(0, 16).toString('base64')}\n`],
    ['non-canonical base64', `log\n1\n${root.slice(0, -2)}V=\n`],
  ])('refuses %s', (_why, body) => expect(() => parseCheckpoint(body)).toThrow(CheckpointError));

  it('round-trips extensions', () => {
    const text = formatCheckpoint({ origin: 'o', size: 0, root: EMPTY_ROOT, extensions: ['a b', 'c'] });
    expect(parseCheckpoint(text)).toEqual({
      origin: 'o',
      size: 0,
      root: EMPTY_ROOT,
      extensions: ['a b', 'c'],
    });
  });
});
