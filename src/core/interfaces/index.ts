// The machine as the core sees it: small interfaces, one concern each,
// implemented for Linux in src/linux and by fakes in the unit tests.
export type * from "./depot.js";
export type * from "./disk-quota.js";
export type * from "./file-transfer.js";
export type * from "./filesystem.js";
export type * from "./id-map.js";
export type * from "./limits.js";
export type * from "./logger.js";
export type * from "./metrics-sink.js";
export type * from "./network.js";
export type * from "./process-log.js";
export type * from "./runtime.js";
export type * from "./state-store.js";
export { MEMORY_STATS_FIELDS } from "./limits.js";
export { SIGNALS, SIGNAL_NUMBERS } from "./runtime.js";
