import pino from "pino";
import { describe, expect, it } from "vitest";
import { BitrateSteering, type SteeredFeed, type SteeringTimer } from "../../agent/app/bitrate-steering.js";
import type { MediaFeed, PublicationNetwork, Publisher } from "../../agent/app/ports.js";
import { SessionController } from "../../agent/app/session-controller.js";
import { STEP_UP_HOLD_MS } from "../../agent/core/congestion/index.js";
import type { FeedStatus } from "../../agent/core/feed-status.js";
import { buildLadder, type DegradationPolicy, type Keep, type Mode } from "../../agent/core/profiles.js";
import { plannedFeed, testConfig } from "../helpers/agent-fixtures.js";

const quiet = pino({ level: "silent" });

/** A timer the test ticks by hand. */
function manualTimer(): SteeringTimer & { tick(): void; running: number; periods: number[] } {
  const ticks = new Set<() => void>();
  const timer = {
    running: 0,
    periods: [] as number[],
    every(ms: number, tick: () => void) {
      timer.periods.push(ms);
      ticks.add(tick);
      timer.running = ticks.size;
      return () => {
        ticks.delete(tick);
        timer.running = ticks.size;
      };
    },
    tick() {
      for (const tick of ticks) tick();
    },
  };
  return timer;
}

interface FakeFeed extends MediaFeed {
  bitrates: number[];
  steps: number[];
}

function fakeFeed(id: string): FakeFeed {
  let step = 0;
  const feed: FakeFeed = {
    bitrates: [],
    steps: [],
    start: async () => "running",
    stop: async () => {},
    requestKeyframe: () => {},
    setBitrate: (kbps) => feed.bitrates.push(kbps),
    retryNow: () => {},
    setStep: async (index) => {
      step = index;
      feed.steps.push(index);
    },
    snapshot: () =>
      ({
        id,
        role: "ultrasound",
        state: "running",
        encoder: "x264enc",
        hardwareEncoder: false,
        mode: { width: 1280, height: 720, framerate: 30 },
        step,
        bitrateKbps: 0,
        restarts: 0,
        packetsForwarded: 0,
        bytesForwarded: 0,
      }) satisfies FeedStatus,
  };
  return feed;
}

function policy(mode: Mode, keep: Keep, bitsPerPixel: number, min: number, max: number): DegradationPolicy {
  return { keep, minBitrateKbps: min, maxBitrateKbps: max, ladder: buildLadder(mode, keep, bitsPerPixel) };
}

const HD30 = { width: 1280, height: 720, framerate: 30 };

function steered(
  id: string,
  role: SteeredFeed["role"],
  feedPolicy: DegradationPolicy,
  network: { now: PublicationNetwork | undefined },
) {
  const feed = fakeFeed(id);
  return { feed, steered: { id, role, policy: feedPolicy, feed, network: () => network.now } };
}

describe("steering the encoders from the estimates", () => {
  it("shares the feeds' estimates by priority once a tick, as bitrate and degradation step", () => {
    const usNet = { now: { estimateKbps: 500, rttMs: 40, lossPercent: 0 } as PublicationNetwork | undefined };
    const docNet = { now: { estimateKbps: 500 } as PublicationNetwork | undefined };
    const us = steered("us", "ultrasound", policy(HD30, "framerate", 0.04, 300, 8000), usNet);
    const doc = steered(
      "doc",
      "document",
      policy({ width: 1920, height: 1080, framerate: 15 }, "resolution", 0.02, 200, 6000),
      docNet,
    );
    const timer = manualTimer();
    const clock = { ms: 0 };
    const steering = new BitrateSteering([doc.steered, us.steered], { timer, nowMs: () => clock.ms }, quiet);
    steering.start();
    expect(timer.periods).toEqual([1000]);
    expect(us.feed.bitrates).toEqual([]);

    timer.tick();
    // 1000 kbit/s in all: ultrasound first (its full mode needs more than is left), the document its floor.
    expect(us.feed.bitrates).toEqual([800]);
    expect(doc.feed.bitrates).toEqual([200]);
    expect(us.feed.steps.length).toBe(1);
    expect(doc.feed.steps.length).toBe(1);
    expect(steering.networkOf("us")).toEqual({
      estimateKbps: 500,
      targetKbps: 800,
      step: us.feed.steps[0],
      rttMs: 40,
      lossPercent: 0,
    });

    // Same estimates: nothing is re-applied.
    timer.tick();
    expect(us.feed.bitrates).toEqual([800]);
    expect(us.feed.steps.length).toBe(1);

    // The link got better: the bitrates follow at once, the steps once the shares have held for the
    // step-up hold, straight to the full mode (one new sequence, not one per rung).
    usNet.now = { estimateKbps: 6000 };
    docNet.now = { estimateKbps: 6000 };
    const stepsBefore = us.feed.steps.length;
    for (let s = 0; s < STEP_UP_HOLD_MS / 1000; s += 1) {
      clock.ms += 1000;
      timer.tick();
    }
    expect(us.feed.steps.length).toBe(stepsBefore);
    clock.ms += 1000;
    timer.tick();
    expect(us.feed.steps.length).toBe(stepsBefore + 1);
    expect(us.feed.bitrates.at(-1)).toBe(8000);
    expect(us.feed.steps.at(-1)).toBe(0);
    expect(doc.feed.steps.at(-1)).toBe(0);

    steering.stop();
    expect(timer.running).toBe(0);
    expect(steering.networkOf("us")).toBeUndefined();
  });

  it("keeps within the site budget, and leaves a feed without a publication alone", () => {
    const usNet = { now: { estimateKbps: 4000 } as PublicationNetwork | undefined };
    const camNet = { now: undefined as PublicationNetwork | undefined };
    const us = steered("us", "ultrasound", policy(HD30, "framerate", 0.04, 300, 8000), usNet);
    const cam = steered("cam", "camera", policy(HD30, "balanced", 0.035, 150, 4000), camNet);
    const timer = manualTimer();
    const steering = new BitrateSteering([us.steered, cam.steered], { timer, siteBudgetKbps: 1500 }, quiet);
    steering.start();
    timer.tick();
    expect(us.feed.bitrates).toEqual([1500]);
    expect(cam.feed.bitrates).toEqual([]);
    expect(steering.networkOf("cam")).toBeUndefined();
    camNet.now = { estimateKbps: 4000 };
    timer.tick();
    const last = (feed: FakeFeed) => feed.bitrates.at(-1) ?? 0;
    expect(last(us.feed) + last(cam.feed)).toBeLessThanOrEqual(1500);
    expect(last(cam.feed)).toBeGreaterThanOrEqual(150);
  });
});

describe("steering that only reports", () => {
  it("computes each feed's share for health but leaves the encoders as they are", () => {
    const net = { now: { estimateKbps: 300 } as PublicationNetwork | undefined };
    const us = steered("us", "ultrasound", policy(HD30, "framerate", 0.04, 300, 8000), net);
    const timer = manualTimer();
    const steering = new BitrateSteering([us.steered], { timer, drive: false }, quiet);
    steering.start();
    timer.tick();
    expect(steering.networkOf("us")).toMatchObject({ estimateKbps: 300, targetKbps: 300 });
    expect(us.feed.bitrates).toEqual([]);
    expect(us.feed.steps).toEqual([]);
  });
});

describe("the session drives the steering", () => {
  it("starts it when the session is live, shows its figures in the feed's health, and stops it at teardown", async () => {
    const timer = manualTimer();
    const settings = plannedFeed(testConfig("http://127.0.0.1:9/whip"));
    const feed = fakeFeed(settings.feed.id);
    const publisher: Publisher = {
      connect: async () => {},
      writeRtp: () => {},
      writeAudioRtp: () => {},
      markDiscontinuity: () => {},
      close: async () => {},
      restartIce: async () => "unsupported",
      network: () => ({ estimateKbps: 900, rttMs: 30 }),
    };
    const states: string[] = [];
    const session = new SessionController(
      [settings],
      () => feed,
      () => publisher,
      {
        sessionChanged: (report) => states.push(report.state),
        feedChanged: () => {},
        feedFailed: () => {},
      },
      quiet,
      { steeringTimer: timer, siteBudgetKbps: 600 },
    );
    expect(timer.running).toBe(0);
    session.dispatch({ type: "buttonPressed" });
    await settle(() => session.report().state === "live");
    expect(timer.running).toBe(1);
    timer.tick();
    expect(feed.bitrates).toEqual([600]);
    expect(session.feedStatuses()[0]?.network).toMatchObject({
      estimateKbps: 900,
      targetKbps: 600,
      rttMs: 30,
    });

    await session.shutdown();
    expect(timer.running).toBe(0);
    expect(states.at(-1)).toBe("idle");
  });
});

async function settle(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !condition(); i += 1) await new Promise((resolve) => setTimeout(resolve, 5));
  expect(condition()).toBe(true);
}

describe("steering an encoder that overshoots its share", () => {
  it("holds it one rung lower while its sent rate stays well above the share, and only while driving", () => {
    const clock = { ms: 0 };
    const net = { now: { estimateKbps: 20_000 } as PublicationNetwork | undefined };
    const us = steered("us", "ultrasound", policy(HD30, "framerate", 0.04, 300, 8000), net);
    const timer = manualTimer();
    const steering = new BitrateSteering([us.steered], { timer, nowMs: () => clock.ms }, quiet);
    steering.start();
    const tick = () => {
      timer.tick();
      clock.ms += 1000;
    };
    tick();
    expect(us.feed.steps).toEqual([]);
    expect(us.feed.bitrates).toEqual([8000]);
    // The encoder sends 1.5× its share for three seconds: one rung down, its share unchanged.
    net.now = { estimateKbps: 20_000, sentKbps: 12_000 };
    tick();
    tick();
    expect(us.feed.steps).toEqual([]);
    tick();
    expect(us.feed.steps).toEqual([1]);
    expect(us.feed.bitrates).toEqual([8000]);
    expect(steering.networkOf("us")).toMatchObject({ step: 1, sentKbps: 12_000, overshootStep: 1 });
    // At the lower rung it fits: after the guard's hold, and then the step-up hold, it may climb back.
    net.now = { estimateKbps: 20_000, sentKbps: 7500 };
    for (let s = 0; s < 12; s += 1) tick();
    expect(us.feed.steps).toEqual([1]);
    for (let s = 0; s < STEP_UP_HOLD_MS / 1000; s += 1) tick();
    expect(us.feed.steps).toEqual([1, 0]);
    expect(steering.networkOf("us")?.overshootStep).toBeUndefined();
  });

  it("leaves a feed it only reports on at its step, however much it sends", () => {
    const clock = { ms: 0 };
    const net = { now: { estimateKbps: 20_000, sentKbps: 30_000 } as PublicationNetwork | undefined };
    const us = steered("us", "ultrasound", policy(HD30, "framerate", 0.04, 300, 8000), net);
    const timer = manualTimer();
    const steering = new BitrateSteering([us.steered], { timer, drive: false, nowMs: () => clock.ms }, quiet);
    steering.start();
    for (let s = 0; s < 5; s += 1) {
      timer.tick();
      clock.ms += 1000;
    }
    expect(us.feed.steps).toEqual([]);
    expect(steering.networkOf("us")).toMatchObject({ step: 0, sentKbps: 30_000 });
    expect(steering.networkOf("us")?.overshootStep).toBeUndefined();
  });
});
