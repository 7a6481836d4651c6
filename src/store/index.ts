export type { ApiKeyRecord, RequestFilter, Store } from './store.js';
export { GrantUnavailable, VersionConflict } from './store.js';
export { openStore } from './open-store.js';
export type { OpenStoreOptions } from './open-store.js';
