export { Fleet, METRICS, seededRandom } from "./fleet.ts";
export type { FleetOptions } from "./fleet.ts";
export { Pacer } from "./pacer.ts";
export { runSimulator } from "./simulator.ts";
export type { SimulatorOptions, SimulatorReport } from "./simulator.ts";
