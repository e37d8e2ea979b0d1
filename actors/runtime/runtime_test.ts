import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { Actor, ask, Mailbox, Supervisor } from "./mod.ts";

Deno.test("mailbox keeps FIFO order, refuses offers when full, and put waits for room", async () => {
  const box = new Mailbox<number>(2);
  assert(box.offer(1) && box.offer(2));
  assert(!box.offer(3), "full");
  let putDone = false;
  const put = box.put(3).then(() => (putDone = true));
  await Promise.resolve();
  assert(!putDone, "put waits while full");
  assertEquals(await box.take(), 1);
  await put;
  assertEquals([await box.take(), await box.take()], [2, 3]);
});

Deno.test("closing a mailbox wakes a waiting taker with an error", async () => {
  const box = new Mailbox<number>(1);
  const taking = box.take().then(() => "value", (e) => e.name);
  box.close();
  assertEquals(await taking, "Interrupted");
});

Deno.test("a supervised actor that throws is restarted with a fresh behavior", async () => {
  const seen: string[] = [];
  const supervisor = new Supervisor({
    onFailure: (r) => seen.push(`${r.actor}:${r.error.message}:${r.restarted}`),
  });
  const states: number[][] = [];
  const actor = new Actor<number | "boom">("counter", (restart) => {
    const state: number[] = [];
    states[restart] = state;
    return {
      receive(message) {
        if (message === "boom") throw new Error("boom");
        state.push(message);
      },
    };
  }, { supervisor });
  await actor.send(1);
  await actor.send("boom");
  await actor.send(2);
  await actor.stop();
  assertEquals(states, [[1], [2]]);
  assertEquals(actor.restarts, 1);
  assertEquals(seen, ["counter:boom:true"]);
});

Deno.test("an actor that fails too often within the window stops for good", async () => {
  let now = 0;
  const supervisor = new Supervisor({ maxRestarts: 2, withinMs: 1000, now: () => now });
  const actor = new Actor<string>("poisoned", () => ({
    receive() {
      throw new Error("poison");
    },
  }), { supervisor });
  for (let i = 0; i < 3; i++) await actor.send("x");
  await actor.stop();
  assertEquals(actor.restarts, 2);
  assertEquals(actor.failure?.message, "poison");
  const refused = await actor.send("x").then(() => "sent", (e) => e.name);
  assertEquals(refused, "BrokenPipe");

  // Failures spread out over time keep being restarted.
  now = 0;
  const patient = new Actor<string>("patient", () => ({
    receive() {
      now += 2000;
      throw new Error("rare");
    },
  }), { supervisor });
  for (let i = 0; i < 5; i++) await patient.send("x");
  await patient.stop();
  assertEquals([patient.restarts, patient.failure], [5, null]);
});

Deno.test("ask rejects with TimedOut when the actor never replies", async () => {
  const silent = new Actor<{ reply: (n: number) => void }>("silent", () => ({ receive() {} }));
  const answer = await ask<{ reply: (n: number) => void }, number>(silent, (reply) => ({ reply }), {
    timeoutMs: 20,
  })
    .then(String, (e) => e.name);
  assertEquals(answer, "TimedOut");
  await silent.stop();
});

Deno.test("a restarted behavior is started before it takes the next message", async () => {
  const seen: string[] = [];
  const supervisor = new Supervisor();
  const actor = new Actor<string>("starter", (restart) => ({
    started() {
      seen.push(`started ${restart}`);
    },
    receive(message) {
      seen.push(`${restart}:${message}`);
      if (message === "boom") throw new Error("boom");
    },
  }), { supervisor });
  await actor.send("a");
  await actor.send("boom");
  await actor.send("b");
  await actor.stop();
  assertEquals(seen, ["started 0", "0:a", "0:boom", "started 1", "1:b"]);
});

Deno.test("a behavior can send itself the answer of a request as a message (pipe to self)", async () => {
  type Message =
    | { type: "ask" }
    | { type: "answer"; value: number; reply?: () => void }
    | { type: "peek"; reply: (log: string[]) => void };
  const pending = Promise.withResolvers<number>();
  const answered = Promise.withResolvers<void>();
  const log: string[] = [];
  const actor = new Actor<Message>("piper", (_, self) => ({
    receive(message) {
      if (message.type === "ask") {
        // Not awaited in receive: the answer comes back later, as a message.
        void pending.promise.then((value) =>
          self.send({ type: "answer", value, reply: answered.resolve })
        );
        log.push("asked");
      } else if (message.type === "answer") {
        log.push(`answer ${message.value}`);
        message.reply?.();
      } else message.reply([...log]);
    },
  }));
  await actor.send({ type: "ask" });
  // Other messages are taken while the request is pending.
  assertEquals(await ask<Message, string[]>(actor, (reply) => ({ type: "peek", reply })), [
    "asked",
  ]);
  pending.resolve(42);
  await answered.promise;
  await actor.stop();
  assertEquals(log, ["asked", "answer 42"]);
});
