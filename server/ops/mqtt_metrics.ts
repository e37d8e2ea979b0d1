import client from "prom-client";
import type { Registry } from "prom-client";

/** What /metrics reads of MQTT ingest (`MqttIngest.counters()`), at each scrape. */
export interface MqttCounters {
  /** Publishes by source (listener, bridge), then by outcome; every label present from the start. */
  publishes: Record<string, Record<string, number>>;
  readingsAccepted: number;
  /** Readings refused, by reason kind. */
  readingsRefused: Record<string, number>;
  /** Connection attempts to the listener, by outcome; every label present from the start. */
  connects: Record<string, number>;
  connections: number;
  tooLarge: number;
  commits: number;
  pendingReadings: number;
  bridgeConnected: boolean;
}

/**
 * MQTT ingest's series on the /metrics page, read from its counters at
 * scrape time as the other stages' are.
 */
export function registerMqttMetrics(registry: Registry, read: () => MqttCounters): void {
  const registers = [registry];
  // Counters mirror monotonic counters: add what grew since the last scrape.
  const counter = (
    name: string,
    help: string,
    labelNames: string[],
    read: () => [Record<string, string>, number][],
  ) => {
    const seen = new Map<string, number>();
    new client.Counter({
      name,
      help,
      labelNames,
      registers,
      collect() {
        for (const [labels, value] of read()) {
          const key = JSON.stringify(labels);
          // inc(0) makes a labelled series visible before its first event.
          this.inc(labels, Math.max(0, value - (seen.get(key) ?? 0)));
          seen.set(key, value);
        }
      },
    });
  };
  const gauge = (name: string, help: string, read: () => number) =>
    new client.Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });

  counter(
    "pulseboard_mqtt_publishes_total",
    "MQTT publishes by source (listener, bridge) and outcome: accepted (durable), duplicate " +
      "(a retry of a committed publish, acknowledged again), invalid (bad topic or payload), " +
      "not_allowed (outside the key's groups), failed (not committed).",
    ["source", "outcome"],
    () =>
      Object.entries(read().publishes).flatMap(([source, outcomes]) =>
        Object.entries(outcomes).map((
          [outcome, n],
        ): [Record<string, string>, number] => [{ source, outcome }, n])
      ),
  );
  counter(
    "pulseboard_mqtt_readings_refused_total",
    "Readings refused in MQTT publishes, by reason.",
    ["reason"],
    () => Object.entries(read().readingsRefused).map(([reason, n]) => [{ reason }, n]),
  );
  counter(
    "pulseboard_mqtt_connects_total",
    "Connection attempts to the MQTT listener, by outcome.",
    ["outcome"],
    () => Object.entries(read().connects).map(([outcome, n]) => [{ outcome }, n]),
  );
  counter(
    "pulseboard_mqtt_readings_ingested_total",
    "Readings from MQTT accepted and durably committed.",
    [],
    () => [[{}, read().readingsAccepted]],
  );
  counter(
    "pulseboard_mqtt_too_large_total",
    "MQTT connections closed for a packet over --mqtt-max-packet.",
    [],
    () => [[{}, read().tooLarge]],
  );
  counter(
    "pulseboard_mqtt_commits_total",
    "Log appends of MQTT readings (each shared by the publishes gathered meanwhile).",
    [],
    () => [[{}, read().commits]],
  );
  gauge("pulseboard_mqtt_connections", "Open MQTT listener connections.", () => read().connections);
  gauge(
    "pulseboard_mqtt_pending_readings",
    "MQTT readings waiting for their commit.",
    () => read().pendingReadings,
  );
  gauge(
    "pulseboard_mqtt_bridge_connected",
    "1 while the MQTT bridge is connected to its broker (0 when disconnected or off).",
    () => read().bridgeConnected ? 1 : 0,
  );
}
