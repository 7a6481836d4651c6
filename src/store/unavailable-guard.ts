import { CountersignError } from '../core/errors.js';
import { GrantUnavailable, VersionConflict, type Store } from './store.js';

/**
 * Wraps a store so that a database failure surfaces as `503 UNAVAILABLE` (invariant 6: it never turns into
 * an allow). The contract's own signals (VersionConflict, GrantUnavailable) pass through untouched.
 */
export function guardStore(store: Store): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      // Bound to the target: adapters keep their state in #private fields, which a Proxy receiver can't read.
      if (prop === 'close') return (value as () => Promise<void>).bind(target);
      return async (...args: unknown[]) => {
        try {
          return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
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
    },
  });
}
