/**
 * Worker thread for offline verification of large exports (see verify-log.ts): checks one batch of
 * lines per message and sends back the result and the batch's buffer (for reuse), both transferred.
 */
import { parentPort } from 'node:worker_threads';
import { checkBatch } from './verify-batch.js';

export interface WorkerJob {
  id: number;
  buffer: ArrayBuffer;
  length: number;
  count: number;
  firstLine: number;
  snapshots: number[];
}

const port = parentPort;
if (port) {
  port.on('message', (job: WorkerJob) => {
    const result = checkBatch({
      bytes: new Uint8Array(job.buffer, 0, job.length),
      count: job.count,
      firstLine: job.firstLine,
      snapshots: job.snapshots,
    });
    port.postMessage({ id: job.id, result, buffer: job.buffer }, [
      job.buffer,
      result.seqs.buffer as ArrayBuffer,
    ]);
  });
}
