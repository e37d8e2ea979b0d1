// GET /ws as small steps: the request, the connection's quotas and end, its
// sink, its authentication, each inbound message, and the handler that
// composes them and routes messages to the hub.
export { FEED_PROTOCOL, feedSocketHandler } from "./feed_socket.ts";
export { defaultMaxClients } from "./client_limit.ts";
export type { FeedSocketOptions } from "./feed_socket.ts";
export { readFeedRequest } from "./feed_request.ts";
export type { FeedRequest, TokenCheck } from "./feed_request.ts";
export { ConnectionQuota } from "./connection_quota.ts";
export { FeedConnection } from "./feed_connection.ts";
export { readInbound } from "./inbound.ts";
export type { Inbound } from "./inbound.ts";
export { closeReason, SocketSink } from "./socket_sink.ts";
export { ViewerAuth } from "./viewer_auth.ts";
export type { ViewerAuthOptions } from "./viewer_auth.ts";
