import type { HealthInputs } from "./health.ts";

/**
 * GET /readyz: ready once the source has caught up and a tick sent after
 * that has reached the view (the start-up replay is served), while the
 * source reads, nothing has failed for good, and checkpoints keep up.
 */
export function readiness(
  inputs: Pick<HealthInputs, "source" | "hub" | "shards">,
  options: { startedAt: number; checkpointEveryMs: number; now: number },
): { ready: boolean; problems: string[] } {
  const source = inputs.source.health();
  const problems: string[] = [];
  if (!source.caughtUp) problems.push(`the ${inputs.source.kind} source is still catching up`);
  else if (!inputs.hub.stats.viewCaughtUp) {
    problems.push("the feed has not yet taken in the replay");
  }
  if (source.problem) problems.push(source.problem);
  if (inputs.hub.failure) problems.push("the hub has failed");
  if (inputs.shards.failed) problems.push("a shard has failed for good");
  const age = options.now - (source.lastCheckpointAt || options.startedAt);
  if (source.checkpointBehind && age > 3 * options.checkpointEveryMs) {
    problems.push(`no checkpoint for ${Math.round(age / 1000)} s`);
  }
  return { ready: problems.length === 0, problems };
}
