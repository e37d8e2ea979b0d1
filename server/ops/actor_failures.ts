import type { FailureReport } from "../../actors/runtime/mod.ts";
import { logger } from "./logger.ts";

/** Logs an actor's failure as its supervisor reports it (actors do not log themselves). */
export function logActorFailure({ actor, error, restarted, failures }: FailureReport): void {
  logger.error(restarted ? "actor failed, restarting" : "actor failed too often, stopped", {
    actor,
    failures,
    error,
  });
}
