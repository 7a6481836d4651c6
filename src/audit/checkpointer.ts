/**
 * Signs checkpoints of the audit log: after every `everyEvents` new events, after `intervalMs` when the
 * tree grew, on demand, and at start when the tree outgrew the latest checkpoint (so a restart in the
 * middle of an interval leaves no event uncovered for long). Several instances on one database may
 * each sign: a checkpoint of a given size is the same note whoever signs it, and the store keeps one.
 */
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { Store, StoredCheckpoint } from '../store/store.js';
import { formatCheckpoint } from './checkpoint.js';
import { signNote, type NoteSigner } from './note.js';
import { rootAt } from './proofs.js';
import { storeSubtreeSource } from './tree-store.js';

export interface CheckpointerOptions {
  store: Store;
  signer: NoteSigner;
  origin: string;
  clock: Clock;
  logger: Logger;
  /** Sign once the tree grew by this many events since the last checkpoint. */
  everyEvents: number;
  /** Sign when this much time passed since the last checkpoint and the tree grew. */
  intervalMs: number;
  /** How often the tree size is looked at (a cheap indexed max); default min(1 s, intervalMs). */
  pollMs?: number;
}

export class Checkpointer {
  readonly #o: CheckpointerOptions;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;
  /** Size and time of the latest checkpoint this process knows of. */
  #lastSize = -1;
  #lastAt = 0;
  /** Serializes signing, so that concurrent triggers sign each size once. */
  #chain: Promise<unknown> = Promise.resolve();

  constructor(options: CheckpointerOptions) {
    this.#o = options;
  }

  get verifierKey(): string {
    return this.#o.signer.verifierKey;
  }

  /** Catches up (signs if the tree outgrew the latest checkpoint), then starts the timer. */
  async start(): Promise<void> {
    const latest = await this.#o.store.latestCheckpoint();
    this.#lastSize = latest?.size ?? 0;
    this.#lastAt = this.#o.clock.now().getTime();
    if ((await this.#o.store.auditTreeSize()) > this.#lastSize) await this.checkpoint();
    this.#stopped = false;
    this.#arm();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** Signs a checkpoint of the tree as it is now (or returns the stored one of that size). */
  checkpoint(): Promise<StoredCheckpoint> {
    const run = this.#chain.then(() => this.#sign());
    this.#chain = run.catch(() => {});
    return run;
  }

  /** One look at the tree: signs when a trigger fired. Returns the new checkpoint, if any. */
  async tick(): Promise<StoredCheckpoint | null> {
    const size = await this.#o.store.auditTreeSize();
    if (size <= this.#lastSize) return null;
    const due =
      size - this.#lastSize >= this.#o.everyEvents ||
      this.#o.clock.now().getTime() - this.#lastAt >= this.#o.intervalMs;
    return due ? this.checkpoint() : null;
  }

  async #sign(): Promise<StoredCheckpoint> {
    const { store, signer, origin, clock } = this.#o;
    const size = await store.auditTreeSize();
    const existing = await store.getCheckpoint(size);
    if (existing !== null) {
      this.#advance(existing.size);
      return existing;
    }
    const root = await rootAt(size, storeSubtreeSource(store));
    const note = signNote(formatCheckpoint({ origin, size, root }), [signer]);
    const checkpoint = { size, root, note, createdAt: clock.now().toISOString() };
    await store.saveCheckpoint(checkpoint);
    // Another instance may have stored this size first; serve the one the store kept.
    const stored = (await store.getCheckpoint(size)) ?? checkpoint;
    this.#advance(size);
    this.#o.logger.info({ size, root: root.toString('hex') }, 'audit checkpoint signed');
    return stored;
  }

  #advance(size: number): void {
    if (size > this.#lastSize) this.#lastSize = size;
    this.#lastAt = this.#o.clock.now().getTime();
  }

  #arm(): void {
    if (this.#stopped) return;
    const pollMs = this.#o.pollMs ?? Math.min(1_000, this.#o.intervalMs);
    this.#timer = setTimeout(() => {
      this.tick()
        .catch((err: unknown) => this.#o.logger.error({ err }, 'audit checkpoint failed; retrying'))
        .finally(() => this.#arm());
    }, pollMs);
    // Never keeps the process alive on its own.
    this.#timer.unref();
  }
}
