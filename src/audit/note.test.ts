import { describe, expect, it } from 'vitest';
import { readVector, vectorsAvailable } from '../../test/helpers/vectors.js';
import {
  NoteError,
  generateSignerKey,
  openNote,
  signNote,
  signerFromPrivateKey,
  verifierFromKey,
  type NoteVerifier,
} from './note.js';

type Vectors = Record<string, any>;

function noteError(fn: () => unknown): NoteError {
  try {
    fn();
  } catch (err) {
    if (err instanceof NoteError) return err;
    throw err;
  }
  throw new Error('expected a NoteError');
}

describe.skipIf(!vectorsAvailable('tlog/signed_note.json'))('signed-note vectors', () => {
  const v = readVector<Vectors>('tlog/signed_note.json');
  const peter = () => verifierFromKey(v.gomod_peter.vkey);

  it('verifies the C2SP example', () => {
    const ex = v.c2sp_example;
    expect(openNote(ex.note, [verifierFromKey(ex.vkey)])).toEqual({
      text: 'This is an example message.\n',
      verifiedBy: ['example.com/foo'],
    });
  });

  it('derives the verifier key from the private key, and re-signs byte for byte (Ed25519 is deterministic)', () => {
    const p = v.gomod_peter;
    const signer = signerFromPrivateKey(p.skey);
    expect(signer.verifierKey).toBe(p.vkey);
    expect(signer.keyHash).toBe(0xc74f20a3);
    expect(signNote(p.text, [signer])).toBe(p.signed_note);
    expect(openNote(p.signed_note, [peter()]).text).toBe(p.text);
    const kp = v.formats_key_pairs;
    for (const [sk, vk] of [
      [kp.logSK, kp.logVK],
      [kp.known1SK, kp.known1VK],
      [kp.known2SK, kp.known2VK],
      [kp.unknownSK, kp.unknownVK],
    ])
      expect(signerFromPrivateKey(sk).verifierKey).toBe(vk);
  });

  it('verifies a two-signature note with either key, and rejects it with neither', () => {
    const note = v.gomod_two_sigs_note.note;
    const enoch = verifierFromKey(v.gomod_enoch.vkey);
    expect(openNote(note, [peter()]).verifiedBy).toEqual(['PeterNeumann']);
    expect(openNote(note, [enoch]).verifiedBy).toEqual(['EnochRoot']);
    expect(openNote(note, [peter(), enoch]).verifiedBy).toEqual(['PeterNeumann', 'EnochRoot']);
    expect(noteError(() => openNote(note, [])).code).toBe('UNKNOWN_KEY');
    const other = verifierFromKey(v.formats_key_pairs.logVK);
    expect(noteError(() => openNote(note, [other])).code).toBe('UNKNOWN_KEY');
  });

  it('rejects a spliced (invalid) signature by a known key', () => {
    const x = v.gomod_invalid_signature_note_hex;
    const err = noteError(() => openNote(Buffer.from(x.hex, 'hex'), [verifierFromKey(x.vkey)]));
    expect(err.code).toBe('BAD_SIGNATURE');
  });

  it('rejects bad verifier keys, every proper substring, and every +1 byte mangling', () => {
    for (const k of v.gomod_bad_vkeys.vkeys) expect(noteError(() => verifierFromKey(k)).code).toBe('BAD_KEY');
    const vkey: string = v.gomod_peter.vkey;
    for (let i = 0; i < vkey.length; i++) {
      for (let j = i; j <= vkey.length; j++) {
        if (i === 0 && j === vkey.length) continue;
        expect(() => verifierFromKey(vkey.slice(i, j)), vkey.slice(i, j)).toThrow(NoteError);
      }
      const mangled = vkey.slice(0, i) + String.fromCharCode(vkey.charCodeAt(i) + 1) + vkey.slice(i + 1);
      expect(() => verifierFromKey(mangled), mangled).toThrow(NoteError);
    }
  });

  it('rejects malformed notes', () => {
    const verifier = verifierFromKey(v.gomod_bad_notes.vkey);
    for (const n of v.gomod_bad_notes.notes) {
      const input = n.note_hex ? Buffer.from(n.note_hex, 'hex') : n.note;
      expect(noteError(() => openNote(input, [verifier])).code, n.desc).toBe('MALFORMED_NOTE');
    }
  });

  it('rejects more than 100 signatures', () => {
    const p = v.gomod_peter;
    const sig = p.signed_note.slice(p.text.length + 1);
    expect(openNote(p.text + '\n' + sig.repeat(100), [peter()]).verifiedBy).toEqual(['PeterNeumann']);
    expect(noteError(() => openNote(p.text + '\n' + sig.repeat(101), [peter()])).code).toBe('MALFORMED_NOTE');
  });

  it('verifies the real sum.golang.org checkpoint, and cosignatures, ignoring unknown names', () => {
    const s = v.sumdb_checkpoint;
    expect(openNote(s.note, [verifierFromKey(s.vkey)]).text).toBe(
      `${s.expect.origin}\n${s.expect.size}\n${s.expect.root_b64}\n`,
    );
    const c = v.sumdb_checkpoint_cosigned;
    const cosigned = s.note + c.extra_sig_lines.map((l: string) => `${l}\n`).join('');
    const keys: NoteVerifier[] = [s.vkey, ...c.vkeys].map(verifierFromKey);
    expect(openNote(cosigned, keys).verifiedBy).toEqual(['sum.golang.org', 'monkeys', 'bananas', 'witness']);
    for (const k of c.vkeys) expect(openNote(cosigned, [verifierFromKey(k)]).verifiedBy).toHaveLength(1);
  });

  it('rejects a signature whose last base64 character only changes padding bits (non-canonical base64)', () => {
    const ex = v.c2sp_example;
    // "…IneyaQM=": M = 001100; N = 001101 flips a padding bit that Go ignores.
    const tampered = ex.note.replace('IneyaQM=\n', 'IneyaQN=\n');
    expect(Buffer.from('IneyaQN=', 'base64')).toEqual(Buffer.from('IneyaQM=', 'base64'));
    expect(noteError(() => openNote(tampered, [verifierFromKey(ex.vkey)])).code).toBe('MALFORMED_NOTE');
  });

  it('verifies every signature by a known key, repeats included', () => {
    const p = v.gomod_peter;
    const bad = v.gomod_invalid_signature_note_hex;
    const badSig = Buffer.from(bad.hex, 'hex')
      .toString('utf8')
      .slice(p.text.length + 1);
    const good = p.signed_note.slice(p.text.length + 1);
    expect(noteError(() => openNote(p.text + '\n' + good + badSig, [peter()])).code).toBe('BAD_SIGNATURE');
  });

  it('parses the C2SP checkpoint example but cannot verify it', () => {
    const c = v.c2sp_checkpoint_example;
    expect(noteError(() => openNote(c.note, [peter()])).code).toBe('UNKNOWN_KEY');
  });
});

describe('our own keys', () => {
  it('generates a key, signs and verifies a round trip', () => {
    const skey = generateSignerKey('countersign.example/audit');
    expect(skey).toMatch(/^PRIVATE\+KEY\+countersign\.example\/audit\+[0-9a-f]{8}\+A[A-Za-z0-9+/]{43}$/);
    const signer = signerFromPrivateKey(skey);
    const note = signNote('hello\n', [signer]);
    expect(openNote(note, [verifierFromKey(signer.verifierKey)])).toEqual({
      text: 'hello\n',
      verifiedBy: ['countersign.example/audit'],
    });
  });

  it('refuses bad names, bad text and bad private keys with clear messages', () => {
    expect(noteError(() => generateSignerKey('a b')).code).toBe('BAD_KEY');
    const signer = signerFromPrivateKey(generateSignerKey('k'));
    expect(noteError(() => signNote('no newline', [signer])).code).toBe('MALFORMED_NOTE');
    expect(noteError(() => signNote('bell\u0007\n', [signer])).code).toBe('MALFORMED_NOTE');
    expect(noteError(() => signerFromPrivateKey('k+12345678+AAAA')).message).toMatch(/PRIVATE\+KEY/);
    expect(noteError(() => signerFromPrivateKey(signer.verifierKey)).code).toBe('BAD_KEY');
  });
});
