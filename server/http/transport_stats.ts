/** The transport's counts for /healthz: connections, and the feed's sockets. */
export class TransportStats {
  /** TCP connections open now: HTTP ones and upgraded feed sockets (kept by `serve`). */
  connections = 0;
  /** Feed sockets whose connection is still open. */
  feedSockets = 0;
  /** The server-wide bound on feed sockets (`--max-clients`); null: none. */
  maxClients: number | null = null;
  /** Feed upgrades refused with 503 because `maxClients` sockets were open. */
  feedRefusedFull = 0;
  /** Feed connections aborted because a close could not be delivered in time. */
  feedAborted = 0;
  /** Feed connections closed with 1009: a message (all its fragments together) over the cap. */
  feedTooBig = 0;
  /** ViewSubscribes held for a moment: their rows were over the connection's or its address's budget. */
  feedViewsPaced = 0;
}
