export { Fleet, METRICS, MODELS, seededRandom, STATUSES } from "./fleet.ts";
export type { FleetOptions, MetricModel, Status } from "./fleet.ts";
export { Pacer } from "./pacer.ts";
export { BatchEncoder } from "./batch_encoder.ts";
export type { Body } from "./batch_encoder.ts";
export { postBatch } from "./post.ts";
export type { PostResult, Refusal } from "./post.ts";
export { runSimulator } from "./simulator.ts";
export type { SimulatorOptions, SimulatorReport } from "./simulator.ts";
