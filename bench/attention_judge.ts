// Micro-benchmark of the hub's attention judging (actors/hub/attention_board.ts):
// 100,000 sensors reporting every 2 s, round-robin (as the simulator's fleet
// does), 5,000 of them arriving each 100 ms tick with 3 metrics each; the
// time of `arrive` (the tick's updates) and `evaluate` (judging) per tick.
//
//   deno run -A bench/attention_judge.ts [--sensors 100000] [--per-tick 5000] [--ticks 400]
import { parseArgs } from "node:util";
import { AttentionBoard } from "../actors/hub/attention_board.ts";
import { allocateStates } from "../protocol/columns.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    sensors: { type: "string", default: "100000" },
    "per-tick": { type: "string", default: "5000" },
    ticks: { type: "string", default: "400" },
  },
});
const SENSORS = Number(args.sensors), PER_TICK = Number(args["per-tick"]);
const TICKS = Number(args.ticks), METRICS = 3, WARM_UP = 400;
const period = Math.ceil(SENSORS / PER_TICK);

const board = new AttentionBoard();
board.enter(Array.from({ length: SENSORS }, (_, i) => ({ index: i, id: `s${i}`, group: "g" })), 0);
const updates = allocateStates(PER_TICK * METRICS);
let now = Date.now();
const arrive: number[] = [], evaluate: number[] = [];
for (let t = 0; t < WARM_UP + TICKS; t++) {
  now += 100;
  let n = 0;
  for (let s = t % period; s < SENSORS; s += period) {
    for (let m = 0; m < METRICS; m++, n++) {
      updates.sensor[n] = s;
      updates.metric[n] = m;
      updates.timeMs[n] = now - 50;
    }
  }
  const tick = { ...updates, length: n };
  const started = performance.now();
  board.arrive(tick, now);
  const arrived = performance.now();
  board.evaluate(now, []);
  const ended = performance.now();
  if (t < WARM_UP) continue; // the JIT, and every sensor's interval known
  arrive.push(arrived - started);
  evaluate.push(ended - arrived);
}
const at = (list: number[], p: number) =>
  list.sort((a, b) => a - b)[Math.min(list.length - 1, Math.floor(p * list.length))].toFixed(3);
const load = Deno.loadavg().map((l) => l.toFixed(2)).join(" ");
console.log(`${SENSORS} sensors, ${PER_TICK} arriving a tick, ${TICKS} ticks; load ${load}`);
console.log(`arrive   p50 ${at(arrive, 0.5)} p90 ${at(arrive, 0.9)} p99 ${at(arrive, 0.99)} ms`);
console.log(
  `evaluate p50 ${at(evaluate, 0.5)} p90 ${at(evaluate, 0.9)} p99 ${at(evaluate, 0.99)} ms`,
);
