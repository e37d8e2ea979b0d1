/**
 * Structural checks for FlatBuffers that come from outside. The npm runtime
 * reads offsets blindly, so before any accessor runs we prove that every
 * offset, vtable, vector and string we will touch lies inside the buffer and
 * is aligned for the typed-array views the generated code creates.
 * Every failure throws a TypeError whose message says what was wrong.
 */
export class FlatBufferVerifier {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #maxDepth: number;
  #depth = 0;
  #tables = 0;
  readonly #maxTables: number;
  #stringBytes = 0;
  readonly #maxStringBytes: number;

  /**
   * `maxStringBytes`: most bytes all strings checked may hold together. Offsets
   * may point many times at one string; without a bound, a 100 KB message could
   * decode to a gigabyte of copies. A buffer's own length is the bound for
   * messages whose writers never share strings (a client's).
   */
  constructor(
    bytes: Uint8Array,
    options: { maxDepth?: number; maxTables?: number; maxStringBytes?: number } = {},
  ) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#maxDepth = options.maxDepth ?? 16;
    this.#maxTables = options.maxTables ?? 100_000;
    this.#maxStringBytes = options.maxStringBytes ?? Infinity;
  }

  get length(): number {
    return this.#bytes.byteLength;
  }

  /** Checks the root offset and returns the root table's position. */
  root(): number {
    if (this.length < 8) fail(`buffer of ${this.length} bytes is too short for a FlatBuffer`);
    return this.table(this.#uoffsetTarget(0));
  }

  /** Checks the table at `pos` and its vtable; returns `pos`. */
  table(pos: number): number {
    if (++this.#tables > this.#maxTables) fail(`more than ${this.#maxTables} tables`);
    this.#within(pos, 4, 4, "table");
    const vtable = pos - this.#view.getInt32(pos, true);
    this.#within(vtable, 4, 2, "vtable");
    const vtableSize = this.#view.getUint16(vtable, true);
    const tableSize = this.#view.getUint16(vtable + 2, true);
    if (vtableSize < 4 || vtableSize % 2 !== 0) fail(`vtable size ${vtableSize} is invalid`);
    this.#within(vtable, vtableSize, 2, "vtable");
    if (tableSize < 4) fail(`table size ${tableSize} is invalid`);
    this.#within(pos, tableSize, 1, "table");
    return pos;
  }

  /** Position of field `id` in the table at `table`, or 0 when absent. */
  field(table: number, id: number, size: number): number {
    const vtable = table - this.#view.getInt32(table, true);
    const vtableSize = this.#view.getUint16(vtable, true);
    const slot = 4 + 2 * id;
    if (slot + 2 > vtableSize) return 0;
    const offset = this.#view.getUint16(vtable + slot, true);
    if (offset === 0) return 0;
    const tableSize = this.#view.getUint16(vtable + 2, true);
    if (offset + size > tableSize) fail(`field ${id} lies outside its table`);
    this.#within(table + offset, size, size, `field ${id}`);
    return table + offset;
  }

  /** Follows an offset field to a sub-table; returns its position or 0. */
  subTable(table: number, id: number, check: (pos: number) => void): number {
    const at = this.field(table, id, 4);
    if (at === 0) return 0;
    const pos = this.table(this.#uoffsetTarget(at));
    this.#nest(() => check(pos));
    return pos;
  }

  /** Checks a vector field of `elementSize`-byte scalars or structs; returns its length. */
  vector(table: number, id: number, elementSize: number, align = elementSize): number {
    const at = this.field(table, id, 4);
    if (at === 0) return -1;
    return this.#vectorAt(this.#uoffsetTarget(at), elementSize, align);
  }

  /** Checks a string field; returns its byte length or -1 when absent. */
  string(table: number, id: number): number {
    const at = this.field(table, id, 4);
    if (at === 0) return -1;
    return this.#stringAt(this.#uoffsetTarget(at));
  }

  /** Checks a vector of strings; returns its length or -1 when absent. */
  stringVector(table: number, id: number): number {
    const at = this.field(table, id, 4);
    if (at === 0) return -1;
    const start = this.#uoffsetTarget(at);
    const length = this.#vectorAt(start, 4, 4);
    for (let i = 0; i < length; i++) this.#stringAt(this.#uoffsetTarget(start + 4 + 4 * i));
    return length;
  }

  /** Checks a vector of tables, each with `check`; returns its length or -1 when absent. */
  tableVector(table: number, id: number, check: (pos: number) => void): number {
    const at = this.field(table, id, 4);
    if (at === 0) return -1;
    const start = this.#uoffsetTarget(at);
    const length = this.#vectorAt(start, 4, 4);
    for (let i = 0; i < length; i++) {
      const pos = this.table(this.#uoffsetTarget(start + 4 + 4 * i));
      this.#nest(() => check(pos));
    }
    return length;
  }

  #nest(check: () => void): void {
    if (++this.#depth > this.#maxDepth) fail(`tables nest deeper than ${this.#maxDepth}`);
    check();
    this.#depth--;
  }

  #vectorAt(pos: number, elementSize: number, align: number): number {
    this.#within(pos, 4, 4, "vector length");
    const length = this.#view.getUint32(pos, true);
    if (length * elementSize > this.length - pos - 4) {
      fail(`vector of ${length} elements runs past the end of the buffer`);
    }
    if ((this.#bytes.byteOffset + pos + 4) % align !== 0) fail("vector is misaligned");
    return length;
  }

  #stringAt(pos: number): number {
    const length = this.#vectorAt(pos, 1, 1);
    if (pos + 4 + length >= this.length || this.#bytes[pos + 4 + length] !== 0) {
      fail("string is not terminated inside the buffer");
    }
    this.#stringBytes += length;
    if (this.#stringBytes > this.#maxStringBytes) {
      fail(`strings of more than ${this.#maxStringBytes} bytes in all (shared string offsets)`);
    }
    return length;
  }

  #uoffsetTarget(at: number): number {
    this.#within(at, 4, 4, "offset");
    const target = at + this.#view.getUint32(at, true);
    if (target >= this.length) fail("offset points past the end of the buffer");
    return target;
  }

  #within(pos: number, size: number, align: number, what: string): void {
    if (pos < 0 || pos + size > this.length) fail(`${what} at ${pos} lies outside the buffer`);
    if ((this.#bytes.byteOffset + pos) % align !== 0) fail(`${what} at ${pos} is misaligned`);
  }
}

function fail(message: string): never {
  throw new TypeError(`Invalid FlatBuffer: ${message}`);
}
