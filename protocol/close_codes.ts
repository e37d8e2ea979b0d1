/**
 * WebSocket close codes Pulseboard uses. 1xxx are the standard ones; 4xxx are
 * ours (the private-use range), documented in README.md.
 */
export const CloseCode = {
  /** Server shutting down. */
  GoingAway: 1001,
  /** A text message: the protocol is binary FlatBuffers only. */
  UnsupportedData: 1003,
  /** An inbound message over the size limit. */
  MessageTooBig: 1009,
  /** The hub was restarted after a failure: reconnect for a fresh snapshot. */
  ServiceRestart: 1012,
  /** A frame that failed verification or a message a client may not send. */
  BadFrame: 4000,
  /** No Pong within the liveness limit. */
  PingTimeout: 4001,
  /** Missing, invalid or expired token (dashboard authentication). */
  Unauthorized: 4003,
  /** Unsent bytes stayed over the cap for too long. */
  Slow: 4008,
  /** More inbound messages than the per-connection rate allows. */
  RateLimited: 4029,
} as const;

export type CloseCode = typeof CloseCode[keyof typeof CloseCode];
