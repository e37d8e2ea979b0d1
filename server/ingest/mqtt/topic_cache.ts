import type { TopicTarget } from "./topic.ts";

/** Bytes a cached topic is charged: its characters at 2 bytes each, twice (the topic, and the group and sensor id cut from it), and the map entry and target object. */
export function topicEntryBytes(topic: string): number {
  return 4 * topic.length + 128;
}

/**
 * Topics parsed lately and what they name (a fleet publishes to a bounded
 * set of topics), within a budget of bytes: past it the oldest entries go
 * first. Only topics that were accepted are meant to be kept (a flood of
 * distinct or refused topics must not hold memory).
 */
export class TopicCache {
  readonly #maxBytes: number;
  readonly #entries = new Map<string, TopicTarget>();
  #bytes = 0;

  constructor(options: { maxBytes?: number } = {}) {
    this.#maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
  }

  get(topic: string): TopicTarget | undefined {
    return this.#entries.get(topic);
  }

  set(topic: string, target: TopicTarget): void {
    const cost = topicEntryBytes(topic);
    if (cost > this.#maxBytes || this.#entries.has(topic)) return;
    this.#entries.set(topic, target);
    this.#bytes += cost;
    for (const oldest of this.#entries.keys()) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= topicEntryBytes(oldest);
    }
  }

  /** Entries held, and the bytes they are charged. */
  get size(): number {
    return this.#entries.size;
  }

  get bytes(): number {
    return this.#bytes;
  }
}
