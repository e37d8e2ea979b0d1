// A restart lists the sensors by id in the order saved with the checkpoint
// (its "idOrder" part), checked rather than trusted: a tampered order is
// sorted again, and either way the id-sorted view is the listing order.
import { assertEquals } from "./testing/assert.ts";
import { eventually } from "./testing/recompute.ts";
import { ViewClient } from "./testing/view_client.ts";
import { listingCompare } from "./listing_order.ts";
import { startPulseboard } from "../server/pulseboard.ts";
import { DEFAULT_CONFIG } from "../server/config/options.ts";
import { CheckpointStore } from "../server/store/mod.ts";
import { decodeIdOrder, encodeIdOrder, ID_ORDER_PART } from "../actors/hub/views/saved_order.ts";

/** 90 ids whose listing order is not their code-unit order: case, numbers, leading zeros. */
const IDS = Array.from(
  { length: 90 },
  (_, i) => [`Sensor-${i * 7}`, `sensor-0${i}`, `s${i % 11}x${i}`][i % 3],
);

async function post(url: URL): Promise<void> {
  const response = await fetch(new URL("/api/ingest", url), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(IDS.map((sensorId, i) => ({
      sensorId,
      group: "plant-a",
      timestamp: Date.UTC(2026, 10, 22, 12) + i,
      reading: { t: i },
    }))),
  });
  assertEquals((await response.json()).accepted, IDS.length);
}

/** The saved order's ids, and the checkpoint it is in. */
async function savedOrder(data: string) {
  const kv = await Deno.openKv(data);
  const store = new CheckpointStore(kv);
  const checkpoint = (await store.load())!;
  const items = decodeIdOrder(checkpoint.extras?.[ID_ORDER_PART]);
  return {
    kv,
    store,
    checkpoint,
    ids: items && [...items].map((i) => checkpoint.router.sensors[i]),
  };
}

async function idView(data: string): Promise<string[]> {
  const server = await startPulseboard({ ...DEFAULT_CONFIG, port: 0, data, tickMs: 1_000 });
  const client = new ViewClient(server.url);
  try {
    await client.opened;
    client.view({ offset: 0, limit: 100 });
    await eventually(() => client.rows.length === IDS.length, 5_000, "every sensor in the window");
    return client.ids();
  } finally {
    await client.close();
    await server.shutdown();
    await server.finished;
  }
}

Deno.test("a restart lists sensors by id in the order saved with the checkpoint; a tampered order is sorted again", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-id-order-" });
  const data = `${dir}/store.kv`;
  const listing = [...IDS].sort(listingCompare);
  try {
    const first = await startPulseboard({ ...DEFAULT_CONFIG, port: 0, data, tickMs: 20 });
    try {
      await post(first.url);
      await eventually(
        () => first.hubStats.sensors === IDS.length,
        5_000,
        "every sensor in the hub",
      );
    } finally {
      await first.shutdown(); // the final checkpoint, with the id order
      await first.finished;
    }
    const saved = await savedOrder(data);
    saved.kv.close();
    assertEquals(saved.ids, listing, "the saved part lists every sensor once, in listing order");
    assertEquals(await idView(data), listing, "restarted with the saved order");

    // Tampered: two neighbours swapped, one sensor listed twice, one left out.
    const again = await savedOrder(data);
    const items = decodeIdOrder(again.checkpoint.extras![ID_ORDER_PART])!;
    [items[3], items[4]] = [items[4], items[3]];
    const tampered = Uint32Array.from([...items.subarray(0, 50), items[10], ...items.subarray(51)]);
    again.checkpoint.extras![ID_ORDER_PART] = encodeIdOrder(tampered);
    await again.store.save(again.checkpoint);
    again.kv.close();
    const check = await savedOrder(data);
    check.kv.close();
    assertEquals(check.ids?.length, IDS.length, "the tampered part was saved");
    assertEquals(await idView(data), listing, "restarted with a tampered order");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
