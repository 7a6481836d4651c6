import type { FastifyBaseLogger } from 'fastify';

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
type Bindings = Record<string, unknown>;
type LogFn = (...args: unknown[]) => void;
/** Fastify's logger type plus pino's `isLevelEnabled`, which the lazy logger needs of its parent. */
type ParentLogger = FastifyBaseLogger & { isLevelEnabled(level: string): boolean };

/**
 * Fastify's per-request logger (the one that binds the request id), made only when the request logs a
 * line at an enabled level. Fastify asks for one on every request, and a pino child costs more than a
 * short request's own work; most requests log nothing at `warn`, and at `info` the child is made for the
 * first line, as before. What a line says, with which bindings, is what the child would have said.
 */
class LazyRequestLogger {
  readonly #parent: ParentLogger;
  readonly #bindings: Bindings;
  #child: ParentLogger | null = null;

  constructor(parent: ParentLogger, bindings: Bindings) {
    this.#parent = parent;
    this.#bindings = bindings;
  }

  #real(): ParentLogger {
    return (this.#child ??= this.#parent.child(this.#bindings) as ParentLogger);
  }

  #log(level: Level, args: unknown[]): void {
    if (this.#child === null && !this.#parent.isLevelEnabled(level)) return;
    const real = this.#real();
    const log: LogFn = real[level];
    log.apply(real, args);
  }

  get level(): string {
    return this.#child?.level ?? this.#parent.level;
  }
  set level(level: string) {
    this.#real().level = level;
  }
  isLevelEnabled(level: string): boolean {
    return (this.#child ?? this.#parent).isLevelEnabled(level);
  }
  child(bindings: Bindings, options?: Parameters<FastifyBaseLogger['child']>[1]): FastifyBaseLogger {
    return this.#real().child(bindings, options);
  }
  fatal(...args: unknown[]): void {
    this.#log('fatal', args);
  }
  error(...args: unknown[]): void {
    this.#log('error', args);
  }
  warn(...args: unknown[]): void {
    this.#log('warn', args);
  }
  info(...args: unknown[]): void {
    this.#log('info', args);
  }
  debug(...args: unknown[]): void {
    this.#log('debug', args);
  }
  trace(...args: unknown[]): void {
    this.#log('trace', args);
  }
  silent(): void {}
}

/**
 * Fastify's `childLoggerFactory`. Options of a child's own (a route's `logLevel` or `logSerializers`)
 * change what it logs, so then the child is made at once.
 */
export function requestLogger(
  parent: FastifyBaseLogger,
  bindings: Bindings,
  options: Parameters<FastifyBaseLogger['child']>[1],
): FastifyBaseLogger {
  const own = options !== undefined && Object.keys(options).length > 0;
  if (own || typeof (parent as Partial<ParentLogger>).isLevelEnabled !== 'function')
    return parent.child(bindings, options);
  return new LazyRequestLogger(parent as ParentLogger, bindings);
}
