import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sendControlCommand } from "../../agent/adapters/control/control-client.js";
import { parseConfig } from "../../agent/config/validate.js";
import { type RunningAgent, startAgent } from "../../agent/main.js";
import { type RunningBroker, startMosquitto } from "../../devhub/mosquitto.js";
import { DevHub } from "../../devhub/server.js";
import { QUICK_TIMINGS, testConfig, testLog } from "../helpers/agent-fixtures.js";
import { feedStats, launchChromium, waitForFeeds } from "../helpers/chromium.js";
import { configInput } from "../helpers/config.js";

let broker: RunningBroker;
let hub: DevHub;
let agent: RunningAgent;
let browser: Awaited<ReturnType<typeof launchChromium>>;
let page: Page;
let socket: string;

const FEEDS = ["room-camera", "document", "ultrasound"];

beforeAll(async () => {
  broker = await startMosquitto();
  hub = new DevHub({ port: 0, bearerToken: "e2e-token", mqttUrl: broker.url });
  await hub.start();
  // A room's three feeds at once, each its own WHIP session; the room camera with its microphone.
  const base = testConfig(hub.whipUrl("room"), { mqttUrl: broker.url, token: "e2e-token" });
  const feed = (id: string, role: string, pattern: string, extra: Record<string, unknown> = {}) => ({
    id,
    role,
    source: { type: "test", pattern },
    width: 640,
    height: 360,
    framerate: 30,
    whip: { url: hub.whipUrl(id), bearerToken: "e2e-token" },
    ...extra,
  });
  const config = parseConfig(
    configInput({
      feeds: [
        feed("room-camera", "camera", "smpte", { audio: { source: { type: "test", frequencyHz: 440 } } }),
        feed("document", "document", "smpte", { framerate: 15 }),
        feed("ultrasound", "ultrasound", "ball"),
      ],
      mqtt: base.mqtt,
      control: base.control,
    }),
    "three feeds",
  );
  socket = config.control.socketPath;
  agent = await startAgent(config, { log: testLog, workerTimings: QUICK_TIMINGS });
  browser = await launchChromium();
  page = browser.context.pages()[0] ?? (await browser.context.newPage());
  await page.goto(`${hub.url}/`);
});

afterAll(async () => {
  await browser?.close();
  await agent?.stop();
  await hub?.stop();
  await broker?.stop();
});

describe("end to end in Chromium through the dev hub", () => {
  it("shows the device's health from MQTT before any session", async () => {
    await page.getByText("online", { exact: true }).waitFor({ timeout: 15_000 });
    await page.locator("#health").getByText("idle", { exact: true }).waitFor({ timeout: 15_000 });
    await page.locator("#health").getByText("feed room-camera").waitFor({ timeout: 15_000 });
    expect(await page.locator("#health").textContent()).toContain("stopped, 0 restarts");
  });

  it("decodes all three feeds at their sizes after a button press, one tile each, without a keyframe-request storm", async () => {
    const response = await sendControlCommand(socket, "toggle");
    expect(response).toMatchObject({ ok: true, accepted: true });
    const seen = await waitForFeeds(page, FEEDS, 60);
    for (const id of FEEDS) {
      expect(seen[id]?.video).toMatchObject({ frameWidth: 640, frameHeight: 360, codec: "video/H264" });
      // Chromium asks for a keyframe at most a few times at start; one per frame would mean a PLI loop.
      expect(seen[id]?.video?.pliCount).toBeLessThan(5);
    }
    const tiles = await page.locator(".tile").evaluateAll((all) => all.map((tile) => tile.dataset.feed));
    expect(tiles.sort()).toEqual([...FEEDS].sort());
    expect(await page.getByTestId("live").textContent()).toBe("LIVE");
    await page.locator("#health").getByText("live", { exact: true }).waitFor({ timeout: 10_000 });
  });

  it("plays the room camera's sound after a click on its sound button, with little concealment", async () => {
    const camera = page.locator('.tile[data-feed="room-camera"]');
    await camera.getByRole("button", { name: /sound/ }).click();
    expect(
      await camera.locator("video").evaluate((video) => (video as unknown as { muted: boolean }).muted),
    ).toBe(false);
    // Only the camera has a microphone: the other tiles offer no sound.
    expect(await page.locator(".tile .sound:visible").count()).toBe(1);
    const audio = async () => (await feedStats(page))["room-camera"]?.audio;
    const first = await audio();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const later = await audio();
    expect(first?.codec).toBe("audio/opus");
    // 20 ms Opus frames: about 50 packets a second.
    expect((later?.packetsReceived ?? 0) - (first?.packetsReceived ?? 0)).toBeGreaterThan(100);
    const samples = (later?.totalSamplesReceived ?? 0) - (first?.totalSamplesReceived ?? 0);
    const concealed = (later?.concealedSamples ?? 0) - (first?.concealedSamples ?? 0);
    expect(samples).toBeGreaterThan(48_000 * 2);
    expect(concealed / samples).toBeLessThan(0.05);
    expect(later?.audioLevel).toBeGreaterThan(0.05);
    for (const id of ["document", "ultrasound"]) expect((await feedStats(page))[id]?.audio).toBeNull();
  });

  it("reports in health that the camera's sound flows", async () => {
    await page
      .locator("#health")
      .getByText(/^flowing, -1\d(\.\d)? dBFS$/)
      .waitFor({ timeout: 15_000 });
    const camera = agent.session.feedStatuses().find((status) => status.id === "room-camera");
    expect(camera?.audio).toMatchObject({ flowing: true });
    expect(camera?.audio?.packetsForwarded).toBeGreaterThan(100);
    expect(agent.session.feedStatuses().filter((status) => status.audio).length).toBe(1);
  });

  it("hears Chromium's RTCP on every feed: no hub taken for lost, the session never degraded", async () => {
    expect(agent.session.report().state).toBe("live");
    for (const status of agent.session.feedStatuses())
      expect(status.link).toEqual({ state: "connected", reconnects: 0 });
  });

  it("ends on the next press: the page shows the session ended", async () => {
    await sendControlCommand(socket, "toggle");
    await page.getByTestId("live").getByText("ENDED").waitFor({ timeout: 10_000 });
    expect(agent.session.report().state).toBe("idle");
  });
});
