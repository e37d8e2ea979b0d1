import { assertEquals } from "../../../tests/testing/assert.ts";
import { Qos2Receipts } from "./qos2_receipts.ts";

Deno.test("QoS 2 receipts: ids held per connection until PUBREL or the connection's end, and at most max in all, the oldest forgotten first", () => {
  const forgot: string[] = [];
  const receipts = new Qos2Receipts<{ name: string }>({
    max: 5,
    onForget: (client, id) => forgot.push(`${client.name}:${id}`),
  });
  const a = { name: "a" }, b = { name: "b" }, c = { name: "c" };
  receipts.add(a, 1);
  receipts.add(a, 2);
  receipts.add(a, 2); // a resent PUBLISH holds nothing more
  receipts.add(b, 1);
  assertEquals(receipts.size, 3);
  assertEquals([receipts.has(a, 2), receipts.has(b, 2), receipts.has(c, 1)], [true, false, false]);
  // PUBREL: the id goes; a second PUBREL finds nothing.
  assertEquals(receipts.delete(a, 1), true);
  assertEquals(receipts.delete(a, 1), false);
  assertEquals(receipts.size, 2);
  // Past max, the oldest ids go, whoever holds them.
  for (let id = 1; id <= 5; id++) receipts.add(c, id);
  assertEquals(receipts.size, 5);
  assertEquals(forgot, ["a:2", "b:1"]);
  assertEquals(receipts.forgotten, 2);
  assertEquals([receipts.has(a, 2), receipts.has(b, 1), receipts.has(c, 1)], [false, false, true]);
  // A connection that ends takes its ids with it.
  receipts.add(b, 9);
  assertEquals(forgot.at(-1), "c:1");
  receipts.drop(c);
  receipts.drop(c);
  assertEquals(receipts.size, 1);
  assertEquals(receipts.has(b, 9), true);
  receipts.drop(b);
  assertEquals(receipts.size, 0);
});
