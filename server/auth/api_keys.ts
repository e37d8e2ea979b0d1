import { KEYS } from "../store/keys.ts";
import { covers } from "../../actors/hub/topic.ts";
import { checkGroup } from "../../protocol/names.ts";

/** A stored API key: only the hash of its secret is kept. */
export interface ApiKeyRecord {
  id: string;
  name: string;
  /** Group prefixes the key may write; "*" for all. */
  groups: string[];
  /** SHA-256 of the secret, hex. */
  hash: string;
  createdAt: number;
  revokedAt: number | null;
}

/** A verified key, as the ingest handler sees it. */
export interface Writer {
  id: string;
  name: string;
  groups: string[];
}

const PREFIX = [KEYS.apiKey];
const KEY_FORMAT = /^pb_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function randomId(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  return Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => alphabet[b % 36]).join("");
}

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replace(
    /=+$/,
    "",
  );
}

/** Compares two equal-length strings in time independent of where they differ. */
function sameText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** Whether `group` lies under one of `allowed` (prefixes, or "*"). */
export function groupAllowed(allowed: readonly string[], group: string): boolean {
  return allowed.some((prefix) => prefix === "*" || covers(prefix, group));
}

/**
 * Ingest API keys in Deno KV: `pb_<id>_<secret>`, shown once at creation;
 * the store keeps the SHA-256 of the secret, the key's name and the group
 * prefixes it may write. Lookups are cached briefly so that verification
 * does not hit the store on every request; a revocation takes effect within
 * `cacheMs`.
 */
export class ApiKeys {
  readonly #kv: Deno.Kv;
  readonly #cacheMs: number;
  readonly #cache = new Map<string, { record: ApiKeyRecord | null; at: number }>();
  #checkedAt = 0;
  #inUse = false;

  constructor(kv: Deno.Kv, options: { cacheMs?: number } = {}) {
    this.#kv = kv;
    this.#cacheMs = options.cacheMs ?? 5_000;
  }

  /** Makes a key; returns its full text (never stored) and its record. */
  async create(name: string, groups: string[]): Promise<{ key: string; record: ApiKeyRecord }> {
    if (groups.length === 0) {
      throw new TypeError("Cannot create a key: give at least one group prefix or *");
    }
    // A prefix no reading's group can be under ("plant-a/", "a b") would make a key that writes nothing.
    for (const prefix of groups) {
      const problem = prefix === "*" ? null : checkGroup(prefix);
      if (problem !== null || prefix === "") {
        throw new TypeError(
          `Cannot create a key: ${JSON.stringify(prefix)} is no group prefix (${
            problem ?? "it is empty"
          }); give group paths like plant-a or plant-a/line-1, or *`,
        );
      }
    }
    const id = randomId();
    const secret = base64url(crypto.getRandomValues(new Uint8Array(32)));
    const record: ApiKeyRecord = {
      id,
      name,
      groups,
      hash: await sha256(secret),
      createdAt: Date.now(),
      revokedAt: null,
    };
    const result = await this.#kv.atomic().check({ key: [...PREFIX, id], versionstamp: null })
      .set([...PREFIX, id], record).commit();
    if (!result.ok) throw new Error("Cannot create a key: id collision, try again");
    return { key: `pb_${id}_${secret}`, record };
  }

  async list(): Promise<ApiKeyRecord[]> {
    const records: ApiKeyRecord[] = [];
    for await (const entry of this.#kv.list<ApiKeyRecord>({ prefix: PREFIX })) {
      records.push(entry.value);
    }
    return records;
  }

  /** Marks a key revoked; returns false when there is no such key. */
  async revoke(id: string): Promise<boolean> {
    const entry = await this.#kv.get<ApiKeyRecord>([...PREFIX, id]);
    if (!entry.value) return false;
    await this.#kv.set([...PREFIX, id], { ...entry.value, revokedAt: Date.now() });
    this.#cache.delete(id);
    return true;
  }

  /**
   * True once any key was ever created. From then on ingest needs a key, even
   * if every key is later revoked: revoking must never open the door.
   */
  async inUse(): Promise<boolean> {
    if (this.#inUse) return true;
    if (Date.now() - this.#checkedAt < this.#cacheMs) return false;
    for await (const _ of this.#kv.list({ prefix: PREFIX }, { limit: 1 })) this.#inUse = true;
    this.#checkedAt = Date.now();
    return this.#inUse;
  }

  /** The writer a presented key belongs to, or null if it is unknown, wrong or revoked. */
  async verify(presented: string): Promise<Writer | null> {
    const match = KEY_FORMAT.exec(presented);
    if (!match) return null;
    const [, id, secret] = match;
    let cached = this.#cache.get(id);
    if (!cached || Date.now() - cached.at > this.#cacheMs) {
      cached = {
        record: (await this.#kv.get<ApiKeyRecord>([...PREFIX, id])).value,
        at: Date.now(),
      };
      this.#cache.set(id, cached);
      if (this.#cache.size > 10_000) this.#cache.delete(this.#cache.keys().next().value!);
    }
    const record = cached.record;
    if (!record || record.revokedAt !== null) return null;
    if (!sameText(await sha256(secret), record.hash)) return null;
    return { id: record.id, name: record.name, groups: record.groups };
  }
}
