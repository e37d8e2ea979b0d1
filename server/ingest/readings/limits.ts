import { MAX_GROUP_LENGTH, MAX_SENSOR_ID_LENGTH } from "../../../protocol/names.ts";

/** Bounds on what one reading may hold. Defaults suit IoT fleets. */
export interface ReadingLimits {
  /** Longest sensor id, in characters. Default 128. */
  maxSensorIdLength: number;
  /** Longest group path, in characters. Default 128. */
  maxGroupLength: number;
  /** Most metrics in one reading. Default 32. */
  maxMetrics: number;
  /** Longest metric name, in characters. Default 64. */
  maxMetricNameLength: number;
  /** Longest status, in characters. Default 32. */
  maxStatusLength: number;
  /** How far past the server's clock a timestamp may lie, in ms. Default 10 s. */
  maxFutureMs: number;
}

export const DEFAULT_READING_LIMITS: Readonly<ReadingLimits> = Object.freeze({
  maxSensorIdLength: MAX_SENSOR_ID_LENGTH,
  maxGroupLength: MAX_GROUP_LENGTH,
  maxMetrics: 32,
  maxMetricNameLength: 64,
  maxStatusLength: 32,
  maxFutureMs: 10_000,
});
