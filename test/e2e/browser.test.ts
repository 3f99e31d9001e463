import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sendControlCommand } from "../../agent/adapters/control/control-client.js";
import { type RunningAgent, startAgent } from "../../agent/main.js";
import { type RunningBroker, startMosquitto } from "../../devhub/mosquitto.js";
import { DevHub } from "../../devhub/server.js";
import { QUICK_TIMINGS, testConfig, testLog } from "../helpers/agent-fixtures.js";
import { launchChromium, waitForDecodedFrames } from "../helpers/chromium.js";

let broker: RunningBroker;
let hub: DevHub;
let agent: RunningAgent;
let browser: Awaited<ReturnType<typeof launchChromium>>;
let page: Page;
let socket: string;

beforeAll(async () => {
  broker = await startMosquitto();
  hub = new DevHub({ port: 0, bearerToken: "e2e-token", mqttUrl: broker.url });
  await hub.start();
  const config = testConfig(hub.whipUrl("room"), { mqttUrl: broker.url, token: "e2e-token" });
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

  it("decodes moving video at the configured size after a button press, without a keyframe-request storm", async () => {
    const response = await sendControlCommand(socket, "toggle");
    expect(response).toMatchObject({ ok: true, accepted: true });
    const seen = await waitForDecodedFrames(page, 90);
    expect(seen).toMatchObject({ frameWidth: 640, frameHeight: 360, codec: "video/H264" });
    // Chromium asks for a keyframe at most a few times at start; one per frame would mean a PLI loop.
    expect(seen?.pliCount).toBeLessThan(5);
    expect(await page.getByTestId("live").textContent()).toBe("LIVE");
    await page.locator("#health").getByText("live", { exact: true }).waitFor({ timeout: 10_000 });
  });

  it("ends on the next press: the page shows the session ended", async () => {
    await sendControlCommand(socket, "toggle");
    await page.getByTestId("live").getByText("ENDED").waitFor({ timeout: 10_000 });
    expect(agent.session.report().state).toBe("idle");
  });
});
