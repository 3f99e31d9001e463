import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SystemSourceResolver } from "../../agent/adapters/devices/system-source-resolver.js";
import { FeedRunner } from "../../agent/adapters/gstreamer/feed-runner.js";
import { forkOnDemand } from "../../agent/adapters/gstreamer/worker-pool.js";
import type { MediaFeedEvents } from "../../agent/app/ports.js";
import type { FeedStatus } from "../../agent/core/feed-status.js";
import { type RunningAgent, startAgent } from "../../agent/main.js";
import { buildFeedPipeline } from "../../pipelines/feed-pipeline.js";
import { plannedFeed, QUICK_TIMINGS, testConfig, testLog } from "../helpers/agent-fixtures.js";
import { GstDecoder } from "../helpers/gst-decoder.js";
import { childPids } from "../helpers/proc.js";
import { waitFor } from "../helpers/wait.js";
import { WeriftWhipHub } from "../helpers/werift-whip-hub.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A live session publishing one feed to a werift hub whose RTP is decoded by libav. */
async function liveFeed(feed: Record<string, unknown>) {
  const decoder = new GstDecoder();
  await decoder.start();
  cleanups.push(() => decoder.stop());
  const frameTimestamps: number[] = [];
  const hub = new WeriftWhipHub({
    onRtp: (packet) => {
      if (packet.header.marker) frameTimestamps.push(packet.header.timestamp);
      decoder.push(packet.serialize());
    },
  });
  await hub.start();
  cleanups.push(() => hub.stop());
  const agent: RunningAgent = await startAgent(testConfig(hub.endpoint, { feed }), {
    log: testLog,
    workerTimings: QUICK_TIMINGS,
  });
  cleanups.push(() => agent.stop());
  agent.pressButton();
  await waitFor("live", () => agent.session.report().state === "live");
  await waitFor("decoded frames", () => decoder.frames >= 30);
  const mediaFeed = agent.session.mediaFeed("room-camera");
  if (!mediaFeed) throw new Error("no feed in the session");
  return { hub, decoder, agent, mediaFeed, frameTimestamps };
}

/**
 * The frame rate the hub receives, from the RTP timestamps (90 kHz) of the last `count` frames: what the
 * encoder sends, whatever the scheduling of this test.
 */
function receivedFps(timestamps: number[], count = 21): number {
  const recent = timestamps.slice(-count);
  const span = ((recent.at(-1) ?? 0) - (recent[0] ?? 0) + 2 ** 32) % 2 ** 32;
  return Math.round(((recent.length - 1) * 90_000) / span);
}

describe("degradation steps at run time", () => {
  it("ultrasound gives up size, not frame rate: the hub decodes the smaller picture in the same session", async () => {
    const { hub, decoder, mediaFeed, agent, frameTimestamps } = await liveFeed({
      role: "ultrasound",
      width: 640,
      height: 360,
      framerate: 30,
    });
    expect({ width: decoder.width, height: decoder.height }).toEqual({ width: 640, height: 360 });
    await mediaFeed.setStep(1);
    await waitFor("the smaller picture decoded", () => decoder.width === 480);
    expect(decoder.height).toBe(270);
    const framesAfter = decoder.frames;
    await waitFor("frames at the new size", () => decoder.frames > framesAfter + 30);
    expect(receivedFps(frameTimestamps)).toBe(30);
    expect(hub.requests.filter((request) => request.method === "POST")).toHaveLength(1);
    expect(agent.session.report().state).toBe("live");
    expect(mediaFeed.snapshot()).toMatchObject({ step: 1, mode: { width: 480, height: 270, framerate: 30 } });
  });

  it("the document camera gives up frame rate, not size: same picture size, fewer frames, same session", async () => {
    const { hub, decoder, mediaFeed, frameTimestamps } = await liveFeed({
      role: "document",
      width: 640,
      height: 360,
      framerate: 30,
    });
    expect(receivedFps(frameTimestamps)).toBe(30);
    await mediaFeed.setStep(1);
    await waitFor("frames at the lower rate", () => receivedFps(frameTimestamps) === 20);
    expect({ width: decoder.width, height: decoder.height }).toEqual({ width: 640, height: 360 });
    expect(hub.requests.filter((request) => request.method === "POST")).toHaveLength(1);
    expect(mediaFeed.snapshot()).toMatchObject({ step: 1, mode: { width: 640, height: 360, framerate: 20 } });
    // Health tells the same: 30 fps from the source, 20 into the encoder, the rest dropped on purpose.
    const near = (value: number | undefined, target: number) =>
      value !== undefined && Math.abs(value - target) <= 2;
    await waitFor("frame rates in health", () => {
      const status = mediaFeed.snapshot();
      return near(status.framerateIn, 30) && near(status.framerateOut, 20);
    });
    expect(mediaFeed.snapshot().droppedFrames).toBeGreaterThan(0);
  });

  it("keeps a bitrate asked of the encoder within the feed's floor and ceiling", async () => {
    const { mediaFeed } = await liveFeed({ degradation: { minBitrateKbps: 200, maxBitrateKbps: 900 } });
    mediaFeed.setBitrate(50);
    expect(mediaFeed.snapshot().bitrateKbps).toBe(200);
    mediaFeed.setBitrate(5000);
    expect(mediaFeed.snapshot().bitrateKbps).toBe(900);
  });
});

describe("a capture device missing at the start", () => {
  it("waits for the device instead of failing, and starts at once when devices change", async () => {
    const dir = mkdtempSync(join(tmpdir(), "spoke-device-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const device = join(dir, "video-index0");
    const states: FeedStatus["state"][] = [];
    let packets = 0;
    const events: MediaFeedEvents = {
      onPacket: () => {
        packets += 1;
      },
      onAudioPacket: () => undefined,
      onStateChange: (status) => states.push(status.state),
      onFailure: () => undefined,
      onNewEncoder: () => undefined,
    };
    // A test picture that the worker only starts once `device` exists: a camera the test plugs in.
    const runner = new FeedRunner(
      plannedFeed(testConfig("http://127.0.0.1:9/whip")),
      new SystemSourceResolver(),
      QUICK_TIMINGS,
      events,
      testLog,
      {
        workers: forkOnDemand,
        // After the immediate retry, a minute's wait: only the devices-changed signal brings it back soon.
        restartPolicy: {
          baseMs: 60_000,
          maxMs: 60_000,
          jitter: 0,
          slowAfterFailures: 2,
          slowEveryMs: 60_000,
        },
        buildPipeline: (plan, ports) => ({ ...buildFeedPipeline(plan, ports), sourceDevice: device }),
      },
    );
    cleanups.push(() => runner.stop());
    expect(await runner.start()).toBe("waiting");
    expect(runner.snapshot()).toMatchObject({
      state: "restarting",
      lastError: { code: "SPOKE_FEED_SOURCE_MISSING" },
    });
    await waitFor("the immediate retry to fail too", () => runner.snapshot().restarts >= 2);
    expect(runner.snapshot()).toMatchObject({ retryingSlowly: true, nextRetryInMs: 60_000 });
    writeFileSync(device, "");
    runner.retryNow();
    await waitFor("video once the device is there", () => packets > 30);
    expect(states).toEqual(["starting", "restarting", "running"]);
  });
});

describe("a degradation step while the feed restarts", () => {
  it("is taken by the next worker, and never leaves a second worker behind", async () => {
    let packets = 0;
    const events: MediaFeedEvents = {
      onPacket: () => {
        packets += 1;
      },
      onAudioPacket: () => undefined,
      onStateChange: () => undefined,
      onFailure: () => undefined,
      onNewEncoder: () => undefined,
    };
    const config = testConfig("http://127.0.0.1:9/whip", { feed: { role: "ultrasound" } });
    const runner = new FeedRunner(
      plannedFeed(config),
      new SystemSourceResolver(),
      QUICK_TIMINGS,
      events,
      testLog,
      {
        workers: forkOnDemand,
      },
    );
    cleanups.push(() => runner.stop());
    await runner.start();
    const first = runner.workerPid;
    process.kill(first ?? 0, "SIGKILL");
    // Straight into the restart: the step lands while the replacement is starting.
    await waitFor("restarting", () => runner.snapshot().state !== "running");
    await runner.setStep(1);
    await waitFor("running again", () => runner.snapshot().state === "running");
    const before = packets;
    await waitFor("video from the new worker", () => packets > before + 30);
    expect(runner.snapshot()).toMatchObject({ step: 1, mode: { width: 480, height: 270 } });
    const workers = await childPids(process.pid, "feed-worker");
    expect(workers).toEqual([runner.workerPid]);
    await runner.stop();
    expect(await childPids(process.pid, "feed-worker")).toEqual([]);
  });
});
