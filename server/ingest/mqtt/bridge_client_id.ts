import { KEYS } from "../../store/mod.ts";

const KEY = [KEYS.mqttBridge, "client_id"];

/**
 * The bridge's client id when none is configured: made once, at random, and
 * kept in the data store, so it stays the same across restarts (the broker
 * keeps the session under it) and two instances with their own data never
 * collide (a broker disconnects one of two clients with the same id).
 */
export async function bridgeClientId(kv: Deno.Kv): Promise<string> {
  const found = await kv.get<string>(KEY);
  if (found.value !== null) return found.value;
  const random = Array.from(
    crypto.getRandomValues(new Uint8Array(8)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  const id = `pulseboard-${random}`;
  const result = await kv.atomic().check({ key: KEY, versionstamp: null }).set(KEY, id).commit();
  // Another process on the same store won the race: use its id.
  return result.ok ? id : (await kv.get<string>(KEY)).value!;
}
