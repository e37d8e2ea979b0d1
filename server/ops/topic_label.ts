import { createHmac } from "node:crypto";

/**
 * The `topic` label of /metrics. A topic's key names a viewer's subscribed
 * sensor ids and its token's groups, and /metrics needs no token, so the
 * label is an opaque id: an HMAC of the key under a key made at start (a
 * plain hash of guessable ids could be confirmed by hashing guesses). The
 * id is stable while the process runs, as the topic is. The unscoped
 * everything-topic `*` names no one and keeps its name.
 */
export function topicLabeler(
  secret: Uint8Array = crypto.getRandomValues(new Uint8Array(32)),
): (key: string) => string {
  return (key) =>
    key === "*" ? "*" : "t" + createHmac("sha256", secret).update(key).digest("hex").slice(0, 12);
}
