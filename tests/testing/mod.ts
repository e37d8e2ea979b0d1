// Shared test fixtures: real parts for tests anywhere in the tree. A real
// Deno KV file, a wire-level MongoDB server, the server as a child process
// (for kill -9 and SIGTERM), raw sockets and HTTP, a feed client that
// decodes through protocol/, and an independent recomputation of the state.
export { assert, assertEquals } from "./assert.ts";
export { withTempKv } from "./temp_kv.ts";
export { MongoWireServer, tokenFor } from "./mongo_wire_server.ts";
export { spawnServer } from "./server_process.ts";
export { FeedClient, FeedState } from "./feed_client.ts";
export type { MetricState } from "./feed_client.ts";
export { eventually, recompute, recomputeStatus, sameState } from "./recompute.ts";
export { apiSensors, apiState } from "./api_sensors.ts";
export type { ApiSensor } from "./api_sensors.ts";
export type { PlainReading } from "./recompute.ts";
export { occurrences, readLog } from "./read_log.ts";
export { flatcJson } from "./flatc_json.ts";
