import { rejects } from "node:assert/strict";
import { assertEquals } from "../../tests/testing/assert.ts";
import { loadMetricsConfig, parseMetricsConfig } from "./metrics_config.ts";
import { DEFAULT_METRICS } from "../../protocol/metric_meta.ts";

Deno.test("a YAML metrics file is read into metadata with its thresholds", async () => {
  const yaml = `
metrics:
  temperature:
    name: Temperature
    unit: "°C"
    precision: 0.1
    thresholds:
      warn: { above: 30 }
      critical: { above: 40, below: -10 }
      holdMs: 5000
  rpm:
    name: Fan speed
    unit: ""
    precision: 10
`;
  assertEquals(await parseMetricsConfig(yaml, "m.yaml"), {
    temperature: {
      name: "Temperature",
      unit: "°C",
      precision: 0.1,
      thresholds: { holdMs: 5000, warn: { above: 30 }, critical: { above: 40, below: -10 } },
    },
    rpm: { name: "Fan speed", unit: "", precision: 10 },
  });
});

Deno.test("a JSON metrics file is read too, and holdMs defaults to 0", async () => {
  const json = JSON.stringify({
    metrics: {
      p: { name: "P", unit: "hPa", precision: 0.5, thresholds: { warn: { below: 990 } } },
    },
  });
  assertEquals(await parseMetricsConfig(json, "m.json"), {
    p: { name: "P", unit: "hPa", precision: 0.5, thresholds: { holdMs: 0, warn: { below: 990 } } },
  });
});

Deno.test("bad metrics files are refused naming the file, the key and the reason", async () => {
  const cases: [string, RegExp][] = [
    ["metrics: [", /^TypeError: f\.yaml: not JSON or YAML/],
    ["[1, 2]", /f\.yaml: \(top\): must be an object with a `metrics` key/],
    ["metrics: {}\nextra: 1", /f\.yaml: extra: unknown key/],
    ["metrics: 3", /f\.yaml: metrics: must be an object/],
    [
      "metrics: { 'bad name': { name: x, unit: '', precision: 1 } }",
      /metrics\.bad name: is not a metric name/,
    ],
    ["metrics: { t: { unit: '', precision: 1 } }", /metrics\.t\.name: must be a string/],
    ["metrics: { t: { name: ' ', unit: '', precision: 1 } }", /metrics\.t\.name: must be 1 to 64/],
    ["metrics: { t: { name: T, unit: 5, precision: 1 } }", /metrics\.t\.unit: must be a string/],
    [
      "metrics: { t: { name: T, unit: '', precision: 0 } }",
      /metrics\.t\.precision: must be a number above 0/,
    ],
    ["metrics: { t: { name: T, unit: '', precision: '0.1' } }", /metrics\.t\.precision/],
    [
      "metrics: { t: { name: T, unit: '', precision: 1, colour: red } }",
      /metrics\.t\.colour: unknown key/,
    ],
    [
      "metrics: { t: { name: T, unit: '', precision: 1, thresholds: { holdMs: -1, warn: { above: 1 } } } }",
      /metrics\.t\.thresholds\.holdMs: must be an integer/,
    ],
    [
      "metrics: { t: { name: T, unit: '', precision: 1, thresholds: { holdMs: 0 } } }",
      /metrics\.t\.thresholds: has neither warn nor critical/,
    ],
    [
      "metrics: { t: { name: T, unit: '', precision: 1, thresholds: { warn: {} } } }",
      /metrics\.t\.thresholds\.warn: has neither above nor below/,
    ],
    [
      "metrics: { t: { name: T, unit: '', precision: 1, thresholds: { warn: { over: 3 } } } }",
      /metrics\.t\.thresholds\.warn\.over: unknown key/,
    ],
    [
      "metrics: { t: { name: T, unit: '', precision: 1, thresholds: { warn: { above: .nan } } } }",
      /metrics\.t\.thresholds\.warn\.above: must be a finite number/,
    ],
    [
      "metrics: { t: { name: T, unit: '', precision: 1, thresholds: { warn: { above: 1, below: 2 } } } }",
      /metrics\.t\.thresholds\.warn: below \(2\) is not under above \(1\)/,
    ],
    [
      "metrics: { t: { name: T, unit: '', precision: 1, thresholds: { warn: { above: 10 }, critical: { above: 5 } } } }",
      /metrics\.t\.thresholds\.critical\.above: is below warn\.above \(10\)/,
    ],
    [
      "metrics: { t: { name: T, unit: '', precision: 1, thresholds: { warn: { below: 5 }, critical: { below: 10 } } } }",
      /metrics\.t\.thresholds\.critical\.below: is above warn\.below \(5\)/,
    ],
  ];
  for (const [text, message] of cases) {
    await rejects(parseMetricsConfig(text, "f.yaml"), (e: unknown) => {
      assertEquals(e instanceof TypeError, true, text);
      assertEquals(message.test(String(e)), true, `${text} → ${e}`);
      return true;
    });
  }
});

Deno.test("no file means the demo's metadata; a missing file is named", async () => {
  assertEquals(await loadMetricsConfig(null), DEFAULT_METRICS);
  await loadMetricsConfig("/nonexistent/metrics.yaml").then(
    () => {
      throw new Error("a missing file was read");
    },
    (e: unknown) => {
      assertEquals(e instanceof TypeError, true);
      assertEquals(
        /--metrics-config \/nonexistent\/metrics\.yaml: cannot read it/.test(String(e)),
        true,
      );
    },
  );
});
