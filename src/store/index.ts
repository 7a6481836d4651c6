export type { ApiKeyRecord, EncryptedPayload, RequestFilter, Store, StoredCheckpoint } from './store.js';
export { GrantUnavailable, VersionConflict } from './store.js';
export { openStore } from './open-store.js';
export type { OpenStoreOptions } from './open-store.js';
