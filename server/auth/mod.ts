export { ApiKeys, groupAllowed } from "./api_keys.ts";
export type { ApiKeyRecord, Writer } from "./api_keys.ts";
export { tokenFromProtocols, TokenVerifier } from "./tokens.ts";
export type { TokenOptions, Viewer } from "./tokens.ts";
export { isLoopback, openAuth } from "./open_auth.ts";
export type { Auth, AuthConfig } from "./open_auth.ts";
