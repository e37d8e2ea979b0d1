/**
 * The newest document `_id` seen per sensor, so that a delete event (which
 * carries only the `_id`) can name its sensor. Bounded by the number of
 * sensors, not documents: with one document per sensor (upsert style) a
 * delete removes that sensor; with one document per reading only deleting
 * the newest one does (e.g. a TTL index expiring a sensor that stopped
 * reporting), and deleting older readings changes nothing.
 * Keys are the `_id`s as canonical EJSON. Saved with each checkpoint.
 */
export class DocumentIds {
  readonly #bySensor = new Map<string, string>();
  readonly #byId = new Map<string, string>();

  get size(): number {
    return this.#bySensor.size;
  }

  /** `id` is now the newest document of `sensorId`. */
  note(id: string, sensorId: string): void {
    const previous = this.#bySensor.get(sensorId);
    if (previous === id) return;
    if (previous !== undefined) this.#byId.delete(previous);
    const owner = this.#byId.get(id);
    // A document that changed its sensorId no longer stands for the old sensor.
    if (owner !== undefined && owner !== sensorId) this.#bySensor.delete(owner);
    this.#bySensor.set(sensorId, id);
    this.#byId.set(id, sensorId);
  }

  /** The sensor a deleted document removes (and forgets it), or undefined. */
  deleted(id: string): string | undefined {
    const sensorId = this.#byId.get(id);
    if (sensorId === undefined) return undefined;
    this.#byId.delete(id);
    this.#bySensor.delete(sensorId);
    return sensorId;
  }

  clear(): void {
    this.#bySensor.clear();
    this.#byId.clear();
  }

  save(): [sensorId: string, id: string][] {
    return [...this.#bySensor];
  }

  /** From a checkpoint's `sourceState`; ignores what does not fit. */
  static restore(saved: unknown): DocumentIds {
    const ids = new DocumentIds();
    if (!Array.isArray(saved)) return ids;
    for (const entry of saved) {
      if (
        Array.isArray(entry) && entry.length === 2 && typeof entry[0] === "string" &&
        typeof entry[1] === "string"
      ) ids.note(entry[1], entry[0]);
    }
    return ids;
  }
}
