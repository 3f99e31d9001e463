import type { ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sendControlCommand } from "../../agent/adapters/control/control-client.js";
import { MqttLink } from "../../agent/adapters/mqtt/mqtt-link.js";
import { startAgent } from "../../agent/main.js";
import { freePort, type RunningBroker, startMosquitto } from "../../devhub/mosquitto.js";
import { testConfig, testLog } from "../helpers/agent-fixtures.js";
import { exited, FleetWatcher, spawnAgent } from "../helpers/agent-process.js";
import { childPids, isAlive, requiredPid } from "../helpers/proc.js";
import { waitFor } from "../helpers/wait.js";
import { WeriftWhipHub } from "../helpers/werift-whip-hub.js";

interface FeedReport {
  id: string;
  state: string;
  restarts: number;
  lastError?: { code: string; message: string };
}

let broker: RunningBroker;
let hub: WeriftWhipHub;

beforeAll(async () => {
  broker = await startMosquitto();
  hub = new WeriftWhipHub();
  await hub.start();
});

afterAll(async () => {
  await hub.stop();
  await broker.stop();
});

async function startDevice(
  deviceId: string,
): Promise<{ agent: ChildProcess; fleet: FleetWatcher; socket: string }> {
  const dir = mkdtempSync(join(tmpdir(), "spoke-fleet-"));
  const config = { ...testConfig(hub.endpoint, { mqttUrl: broker.url }), deviceId };
  const agent = spawnAgent(config, dir);
  const fleet = new FleetWatcher(broker.url, deviceId);
  await fleet.start();
  await waitFor("online", () => fleet.latest("status")?.state === "online");
  return { agent, fleet, socket: config.control.socketPath };
}

describe("the agent's broker connection", () => {
  it("speaks MQTT 3.1.1 to brokers that need it", async () => {
    const config = testConfig(hub.endpoint, { mqttUrl: broker.url });
    config.deviceId = "box-v311";
    config.mqtt.protocolVersion = 4;
    const fleet = new FleetWatcher(broker.url, config.deviceId);
    await fleet.start();
    const agent = await startAgent(config, { log: testLog });
    try {
      await waitFor("online", () => fleet.latest("status")?.state === "online");
      await waitFor("health", () => fleet.latest("health")?.deviceId === "box-v311");
      // Mosquitto logs the protocol of each connection: p2 is MQTT 3.1.1, p5 is MQTT 5.
      expect(broker.log()).toMatch(/as spoke-box-v311 \(p2,/);
    } finally {
      await agent.stop();
      await fleet.stop();
    }
  });

  it("starts without its broker, runs a session, and reports the latest state once the broker appears", async () => {
    const port = await freePort();
    const config = testConfig(hub.endpoint, { mqttUrl: `mqtt://127.0.0.1:${port}` });
    config.deviceId = "box-late-broker";
    const agent = await startAgent(config, { log: testLog });
    let lateBroker: RunningBroker | undefined;
    let fleet: FleetWatcher | undefined;
    try {
      agent.pressButton();
      await waitFor("live without a broker", () => agent.session.report().state === "live");
      lateBroker = await startMosquitto({ port });
      fleet = new FleetWatcher(lateBroker.url, config.deviceId);
      await fleet.start();
      await waitFor("online", () => fleet?.latest("status")?.state === "online", 10_000);
      await waitFor("the live session", () => fleet?.latest("session")?.state === "live");
      // Only the latest session state was kept while offline: no backlog of starting/live.
      expect(fleet.on("session").map((s) => s.state)).toEqual(["live"]);
    } finally {
      await agent.stop();
      await fleet?.stop();
      await lateBroker?.stop();
    }
  });

  it("reports a session the hub refuses as one session_failed event and a failed health", async () => {
    const refusing = new WeriftWhipHub({ failWith: { status: 403, body: "room closed" } });
    await refusing.start();
    const config = testConfig(refusing.endpoint, { mqttUrl: broker.url });
    config.deviceId = "box-refused";
    const fleet = new FleetWatcher(broker.url, config.deviceId);
    await fleet.start();
    const agent = await startAgent(config, { log: testLog });
    try {
      await waitFor("online", () => fleet.latest("status")?.state === "online");
      agent.pressButton();
      await waitFor("failed health", () => fleet.latest("health")?.overall === "failed");
      expect(fleet.latest("session")).toMatchObject({
        state: "error",
        error: { code: "SPOKE_WHIP_HTTP_ERROR" },
      });
      expect(
        fleet.on("events").map((event) => [event.type, (event.error as { code?: string })?.code]),
      ).toEqual([["session_failed", "SPOKE_WHIP_HTTP_ERROR"]]);
    } finally {
      await agent.stop();
      await fleet.stop();
      await refusing.stop();
    }
  });

  it("stops even when the broker has frozen with messages unacknowledged", async () => {
    const frozen = await startMosquitto();
    const deviceId = "box-frozen-broker";
    const link = new MqttLink(
      { ...testConfig(hub.endpoint).mqtt, url: frozen.url },
      deviceId,
      "test",
      testLog,
    );
    const fleet = new FleetWatcher(frozen.url, deviceId);
    await fleet.start();
    link.start();
    try {
      await waitFor("online", () => fleet.latest("status")?.state === "online");
      frozen.process.kill("SIGSTOP");
      link.publish({ topic: "health", payload: { deviceId }, retain: true });
      const outcome = await Promise.race([
        link.stop().then(() => "stopped"),
        new Promise((resolve) => setTimeout(() => resolve("still stopping"), 20_000)),
      ]);
      expect(outcome).toBe("stopped");
    } finally {
      frozen.process.kill("SIGCONT");
      await fleet.stop();
      await frozen.stop();
    }
  });

  it("says offline last: a health report that arrives while stopping is dropped, without a warning", async () => {
    const deviceId = "box-goodbye";
    const warnings: string[] = [];
    const log = pino({ level: "warn" }, { write: (line: string) => warnings.push(line) });
    const link = new MqttLink({ ...testConfig(hub.endpoint).mqtt, url: broker.url }, deviceId, "test", log);
    const fleet = new FleetWatcher(broker.url, deviceId);
    await fleet.start();
    link.start();
    try {
      await waitFor("online", () => fleet.latest("status")?.state === "online");
      const stopped = link.stop();
      link.publish({ topic: "health", payload: { deviceId, late: true }, retain: true });
      await stopped;
      const retained = new FleetWatcher(broker.url, deviceId);
      await retained.start();
      await waitFor("retained offline", () => retained.latest("status")?.state === "offline");
      await retained.stop();
      expect(fleet.on("health")).toEqual([]);
      expect(retained.on("health")).toEqual([]);
      expect(warnings).toEqual([]);
    } finally {
      await fleet.stop();
    }
  });
});

describe("fleet reporting over MQTT (real Mosquitto, agent as its own process)", () => {
  it("publishes presence, retained health with real machine figures, and the session", async () => {
    const { agent, fleet } = await startDevice("box-health");
    try {
      await waitFor("health", () => fleet.latest("health") !== undefined);
      const health = fleet.latest("health") as { system: Record<string, number>; feeds: FeedReport[] };
      expect(health).toMatchObject({ deviceId: "box-health", overall: "ok", session: { state: "idle" } });
      const system = health.system;
      expect(system.memoryTotalBytes).toBeGreaterThan(100 * 1024 * 1024);
      expect(system.cpuLoadPercent).toBeGreaterThanOrEqual(0);
      expect(system.osUptimeSeconds).toBeGreaterThan(0);
      expect(health.feeds.map((feed) => [feed.id, feed.state])).toEqual([["room-camera", "stopped"]]);
      // Which encoder and mode each feed will use, and how loaded the box's encoders are, before any session.
      expect(health.feeds[0]).toMatchObject({
        role: "camera",
        encoder: "x264enc",
        hardwareEncoder: false,
        mode: { width: 640, height: 360, framerate: 30 },
        step: 0,
      });
      expect((health as unknown as { media: unknown }).media).toMatchObject({
        platform: "generic",
        softwareEncoderLoadPercent: expect.any(Number),
        warnings: [],
      });
      expect(fleet.latest("session")).toMatchObject({ state: "idle" });

      // A dashboard that connects later still gets the latest state: status, health and session are retained.
      const late = new FleetWatcher(broker.url, "box-health");
      await late.start();
      await waitFor("retained messages", () =>
        ["status", "health", "session"].every((name) => late.latest(name)),
      );
      expect(
        late.messages
          .filter((m) => m.retained)
          .map((m) => m.topic.split("/").pop())
          .sort(),
      ).toEqual(expect.arrayContaining(["health", "session", "status"]));
      await late.stop();
    } finally {
      agent.kill("SIGTERM");
      await exited(agent);
      await fleet.stop();
    }
  });

  it("reports a killed feed worker as an event and in health, and shows it running again", async () => {
    const { agent, fleet, socket } = await startDevice("box-restart");
    try {
      await sendControlCommand(socket, "start");
      await waitFor("live on MQTT", () => fleet.latest("session")?.state === "live");
      const [worker] = (await childPids(requiredPid(agent.pid))).filter(isAlive);
      process.kill(requiredPid(worker), "SIGKILL");
      await waitFor("feed_failed event", () => fleet.on("events").some((e) => e.type === "feed_failed"));
      expect(fleet.on("events").find((e) => e.type === "feed_failed")).toMatchObject({
        feed: "room-camera",
        error: { code: "SPOKE_FEED_WORKER_EXITED", message: "feed worker killed by SIGKILL" },
      });
      const feeds = () => fleet.on("health").map((h) => (h.feeds as FeedReport[])[0]);
      await waitFor("health shows the restart", () => feeds().some((f) => f?.state === "restarting"));
      await waitFor("health shows it running again", () => feeds().at(-1)?.state === "running");
      expect(feeds().at(-1)).toMatchObject({ restarts: 1, lastError: { code: "SPOKE_FEED_WORKER_EXITED" } });
      expect(fleet.on("health").some((h) => h.overall === "degraded")).toBe(true);
      expect(fleet.latest("session")?.state).toBe("live");
    } finally {
      agent.kill("SIGTERM");
      await exited(agent);
      await fleet.stop();
    }
  });

  it("says offline on SIGTERM after ending the session with a WHIP DELETE", async () => {
    const { agent, fleet, socket } = await startDevice("box-term");
    await sendControlCommand(socket, "start");
    await waitFor("live", () => fleet.latest("session")?.state === "live");
    const deletesBefore = hub.requests.filter((r) => r.method === "DELETE").length;
    agent.kill("SIGTERM");
    expect(await exited(agent)).toEqual({ code: 0, signal: null });
    await waitFor("offline", () => fleet.latest("status")?.state === "offline");
    expect(hub.requests.filter((r) => r.method === "DELETE").length).toBe(deletesBefore + 1);
    await fleet.stop();
  });

  it("is marked lost by the broker's Last Will when the agent dies without a word", async () => {
    const { agent, fleet } = await startDevice("box-lost");
    agent.kill("SIGKILL");
    await exited(agent);
    await waitFor("lost", () => fleet.latest("status")?.state === "lost");
    await fleet.stop();
  });
});
