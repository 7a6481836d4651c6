import { CountersignError } from '../core/errors.js';
import { GrantUnavailable, VersionConflict, type Store } from './store.js';

/**
 * Wraps a store so that a database failure surfaces as `503 UNAVAILABLE` (invariant 6: it never turns into
 * an allow). The contract's own signals (VersionConflict, GrantUnavailable) pass through untouched.
 */
export function guardStore(store: Store): Store {
  // One wrapper per method, made at its first use (the store is called several times per HTTP request),
  // and made again if the method is replaced (tests put failing stand-ins in).
  const wrapped = new Map<PropertyKey, { method: unknown; wrapper: unknown }>();
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      const known = wrapped.get(prop);
      if (known?.method === value) return known.wrapper;
      const wrapper = wrap(target, prop, value as (...a: unknown[]) => Promise<unknown>);
      wrapped.set(prop, { method: value, wrapper });
      return wrapper;
    },
  });
}

function wrap(target: Store, prop: PropertyKey, method: (...a: unknown[]) => Promise<unknown>): unknown {
  // Bound to the target: adapters keep their state in #private fields, which a Proxy receiver can't read.
  // `recentApiKey` is synchronous and reads no database: nothing of it to guard.
  if (prop === 'close' || prop === 'recentApiKey') return method.bind(target);
  return async (...args: unknown[]) => {
    try {
      return await method.apply(target, args);
    } catch (err) {
      if (
        err instanceof VersionConflict ||
        err instanceof GrantUnavailable ||
        err instanceof CountersignError
      ) {
        throw err;
      }
      throw new CountersignError(
        'UNAVAILABLE',
        'the store is unavailable; nothing was changed, retry later',
        {
          cause: err,
        },
      );
    }
  };
}
