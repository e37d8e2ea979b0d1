// The config stage: one option table (options.ts) drives parsing, --help and
// the README's tables; actor_options.ts turns options into the actors' own.
// metrics_config.ts reads --metrics-config; memory_limit.ts the machine's or
// container's memory that defaults are sized from.
export { DEFAULT_CONFIG, duration, OPTIONS, parseConfig, readmeTable, USAGE } from "./options.ts";
export type { Config, Option } from "./options.ts";
export { hubOptions, shardOptions } from "./actor_options.ts";
export { startupFailure } from "./startup_failure.ts";
export { loadMetricsConfig, parseMetricsConfig } from "./metrics_config.ts";
export { SERVER_V8_FLAGS, SERVER_V8_FLAGS_ARG } from "./v8_flags.ts";
export { memoryLimitBytes } from "./memory_limit.ts";
