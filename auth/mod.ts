export { ApiKeys, groupAllowed } from "./api_keys.ts";
export type { ApiKeyRecord, Writer } from "./api_keys.ts";
