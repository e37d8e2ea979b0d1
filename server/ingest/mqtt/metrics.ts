import client from "prom-client";
import type { Registry } from "prom-client";
import type { MqttStats } from "./stats.ts";
import { CONNECT_OUTCOMES, PUBLISH_OUTCOMES, PUBLISH_SOURCES } from "./stats.ts";

/**
 * MQTT ingest's series on the /metrics page, read from its counters at
 * scrape time (as metrics/prometheus.ts does for the other stages).
 */
export function registerMqttMetrics(
  registry: Registry,
  stats: MqttStats,
  commits: { readonly commits: number; readonly pendingReadings: number },
): void {
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
      PUBLISH_SOURCES.flatMap((source) =>
        PUBLISH_OUTCOMES.map((outcome) =>
          [{ source, outcome }, stats.publishes[source][outcome]] as [
            Record<string, string>,
            number,
          ]
        )
      ),
  );
  counter(
    "pulseboard_mqtt_readings_refused_total",
    "Readings refused in MQTT publishes, by reason.",
    ["reason"],
    () => Object.entries(stats.readingsRefused).map(([reason, n]) => [{ reason }, n]),
  );
  counter(
    "pulseboard_mqtt_connects_total",
    "Connection attempts to the MQTT listener, by outcome.",
    ["outcome"],
    () => CONNECT_OUTCOMES.map((outcome) => [{ outcome }, stats.connects[outcome]]),
  );
  counter(
    "pulseboard_mqtt_readings_ingested_total",
    "Readings from MQTT accepted and durably committed.",
    [],
    () => [[{}, stats.readingsAccepted]],
  );
  counter(
    "pulseboard_mqtt_too_large_total",
    "MQTT connections closed for a packet over --mqtt-max-packet.",
    [],
    () => [[{}, stats.tooLarge]],
  );
  counter(
    "pulseboard_mqtt_commits_total",
    "Log appends of MQTT readings (each shared by the publishes gathered meanwhile).",
    [],
    () => [[{}, commits.commits]],
  );
  gauge("pulseboard_mqtt_connections", "Open MQTT listener connections.", () => stats.connections);
  gauge(
    "pulseboard_mqtt_pending_readings",
    "MQTT readings waiting for their commit.",
    () => commits.pendingReadings,
  );
  gauge(
    "pulseboard_mqtt_bridge_connected",
    "1 while the MQTT bridge is connected to its broker (0 when disconnected or off).",
    () => stats.bridge?.connected ? 1 : 0,
  );
}
