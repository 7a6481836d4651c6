import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { requestLogger } from './request-logger.js';

function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level }, stream), lines };
}

describe('per-request logger', () => {
  it('writes what a child would, with the request id, at the levels enabled', async () => {
    const { logger, lines } = capture('info');
    const log = requestLogger(logger, { reqId: 'r-1' }, {});
    log.info({ a: 1 }, 'hello');
    log.debug('not at info');
    log.error(new Error('boom'));
    await new Promise((r) => setImmediate(r));
    expect(lines).toMatchObject([
      { level: 30, reqId: 'r-1', a: 1, msg: 'hello' },
      { level: 50, reqId: 'r-1', err: { message: 'boom' } },
    ]);
    expect(log.level).toBe('info');
  });

  it('makes no child for a request that logs nothing at an enabled level', () => {
    const { logger } = capture('warn');
    const child = vi.spyOn(logger, 'child');
    const log = requestLogger(logger, { reqId: 'r-2' }, {});
    log.info('incoming request');
    log.debug('detail');
    expect(child).not.toHaveBeenCalled();
    log.warn('now one');
    log.error('and another');
    expect(child).toHaveBeenCalledTimes(1);
  });

  it('makes the child at once when the route gives it options of its own (a level, serializers)', async () => {
    const { logger, lines } = capture('warn');
    const log = requestLogger(logger, { reqId: 'r-3' }, { level: 'debug' });
    log.debug('route-level debug');
    await new Promise((r) => setImmediate(r));
    expect(lines).toMatchObject([{ level: 20, reqId: 'r-3', msg: 'route-level debug' }]);
  });
});
