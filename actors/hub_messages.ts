import type { Session } from "./session.ts";

/** Time to flush the shards and push this tick's delta. */
export interface HubTick {
  type: "tick";
}

/** A new client: it gets a snapshot now, then every delta after it. */
export interface HubJoin {
  type: "join";
  session: Session;
}

export interface HubLeave {
  type: "leave";
  session: Session;
}

/** The server is stopping: close every session with `code`. */
export interface HubShutdown {
  type: "shutdown";
  code: number;
}

export type HubMessage = HubTick | HubJoin | HubLeave | HubShutdown;
