/**
 * The store thread: a worker thread that owns the SQLite connection of a `ThreadedSqliteStore` and runs
 * the Store calls the main thread sends it (see threaded-store.ts and thread-protocol.ts).
 *
 * better-sqlite3 is synchronous, so on the main thread every statement, COMMIT and checkpoint would stop
 * HTTP parsing, policy evaluation and every other request for as long as it runs. Here they run beside
 * the event loop, on the machine's other cores. The store itself is the ordinary one
 * (`createSqliteStore`): the same group commit, durability and atomicity, in this thread.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { Store } from '../store.js';
import { createSqliteStore } from './sqlite-store.js';
import {
  isStoreMethod,
  postInOne,
  receiveArgs,
  sendError,
  sendResult,
  type Call,
  type Reply,
  type StoreThreadData,
} from './thread-protocol.js';

if (parentPort) serve(parentPort, workerData as StoreThreadData);

function serve(port: MessagePort, data: StoreThreadData): void {
  let store: Store | null = null;
  let openError: unknown = null;
  try {
    const key = data.payloadKey;
    // This thread serves only the store, so it can wait for its own fsyncs (see walFileSync).
    store = createSqliteStore(data.path, {
      inlineFsync: true,
      ...(key === undefined ? {} : { payloadKey: { id: key.id, key: Buffer.from(key.key) } }),
    });
  } catch (err) {
    // Answered to every call (migrate() comes first), so the opener sees why.
    openError = err;
  }

  let replies: Reply[] = [];
  let flushing = false;
  const flush = () => {
    flushing = false;
    const out = replies;
    replies = [];
    if (out.length === 0) return;
    // An answer that cannot be cloned fails that call alone (its caller hears why), not the thread.
    postInOne(
      (batch) => port.postMessage(batch),
      out,
      (r, err) => port.postMessage([{ id: r.id, ok: false, error: sendError(err) }]),
    );
  };
  // Answers that are ready together go back in one message: a group commit settles all its writes at
  // once, and their answers reach `reply` in the same run of microtasks, so a microtask queued by the
  // first runs after the last (~16 answers per message under the allow-path benchmark, as with a
  // setImmediate). A setImmediate would hold them for a turn of this loop, behind the calls arriving
  // meanwhile (~0.3 ms per write under that load).
  const reply = (r: Reply) => {
    replies.push(r);
    if (!flushing) {
      flushing = true;
      queueMicrotask(flush);
    }
  };
  const fail = (id: number, err: unknown) => reply({ id, ok: false, error: sendError(err) });
  // Nothing may follow a close: answer it now and let the thread end.
  const closed = (id: number) => {
    reply({ id, ok: true, value: undefined });
    flush();
    port.close();
  };

  const run = (call: Call) => {
    const { id, method } = call;
    if (!isStoreMethod(method)) return fail(id, new Error(`not a Store method: ${String(method)}`));
    if (store === null) return method === 'close' ? closed(id) : fail(id, openError);
    let result: Promise<unknown>;
    try {
      const fn = (store as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>)[method];
      result = fn!.apply(store, receiveArgs(method, call.args));
    } catch (err) {
      return fail(id, err);
    }
    result.then(
      (value) =>
        method === 'close' ? closed(id) : reply({ id, ok: true, value: sendResult(method, value) }),
      (err: unknown) => fail(id, err),
    );
  };

  port.on('message', (calls: Call[]) => {
    for (const call of calls) run(call);
  });
}
