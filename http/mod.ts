export { createApp } from "./app.ts";
export type { Handler, Routes } from "./app.ts";
export { closeCodeFor, errorResponse, jsonResponse, problem, statusFor } from "./errors.ts";
export { ingestHandler, IngestStats } from "./ingest.ts";
export type { IngestOptions, ReadingSink } from "./ingest.ts";
export { staticFiles } from "./static_files.ts";
export { feedSocketHandler } from "./websocket.ts";
export type { FeedSocketOptions } from "./websocket.ts";
