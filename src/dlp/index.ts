// Data loss prevention: detectors, masking and data classes. See docs/dlp.md.
export type { DlpClass, DlpFinding, DlpSeverity, BuiltinType } from './types.js';
export { BUILTIN_TYPES } from './types.js';
export { createScanner, type Scanner } from './scanner.js';
export { maskValue, maskJson, classesOf } from './mask.js';
export {
  dlpConfigSchema,
  customDetectorSchema,
  allowlistEntrySchema,
  parseDlpConfig,
  DlpConfigError,
  type DlpConfig,
  type CustomDetectorConfig,
} from './config.js';
export { formatJsonPath, pathSegment } from './json-path.js';
export { isTrustedDestination } from './destinations.js';
export { TYPE_INFO } from './type-info.js';
export {
  luhnValid,
  ibanValid,
  ssnValid,
  shannonEntropy,
  jwtHeaderValid,
  isPlaceholder,
  isTemplatePlaceholder,
} from './validators.js';
