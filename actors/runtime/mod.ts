export { Mailbox } from "./mailbox.ts";
export { Actor, ask } from "./actor.ts";
export type { ActorOptions, ActorRef, Behavior, BehaviorFactory } from "./actor.ts";
export { Supervisor } from "./supervisor.ts";
export type { FailureReport, SupervisorOptions } from "./supervisor.ts";
