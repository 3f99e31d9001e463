import { describe, expect, it } from "vitest";
import { parseConfig } from "../../agent/config/validate.js";
import {
  buildLadder,
  type DegradationPolicy,
  feedProfile,
  fitWithin,
  rungFor,
  STEP_UP_MARGIN,
  wantedMode,
} from "../../agent/core/profiles.js";
import { configInput } from "../helpers/config.js";

function feedOf(feed: Record<string, unknown>) {
  const base = { id: "f", source: { type: "test" }, whip: { url: "http://h/w" } };
  const config = parseConfig(configInput({ feeds: [{ ...base, ...feed }] }), "test");
  const first = config.feeds[0];
  if (!first) throw new Error("no feed");
  return first;
}

const UHD60 = { width: 3840, height: 2160, framerate: 60 };
const FULL_HD60 = { width: 1920, height: 1080, framerate: 60 };
const CAPTURE_720P = { width: 1280, height: 720, framerate: 30 };

describe("default modes by role", () => {
  it.each([
    ["camera", true, UHD60, { width: 1920, height: 1080, framerate: 30 }],
    ["camera", false, UHD60, { width: 1280, height: 720, framerate: 30 }],
    ["camera", true, CAPTURE_720P, CAPTURE_720P],
    // The document camera: the largest the device gives, up to 4K, at 15 fps.
    ["document", true, UHD60, { width: 3840, height: 2160, framerate: 15 }],
    [
      "document",
      false,
      { width: 2592, height: 1944, framerate: 10 },
      { width: 2592, height: 1944, framerate: 10 },
    ],
    // Ultrasound: the capture's own size and rate, up to 1080p60.
    ["ultrasound", true, FULL_HD60, FULL_HD60],
    ["ultrasound", false, UHD60, FULL_HD60],
    [
      "ultrasound",
      false,
      { width: 1024, height: 768, framerate: 30 },
      { width: 1024, height: 768, framerate: 30 },
    ],
  ] as const)("%s (hardware encoder %s) from a %j source: %j", (role, hardware, native, expected) => {
    expect(wantedMode(feedOf({ role }), { native }, hardware)).toEqual(expected);
  });

  it("takes what the config sets, and keeps 16:9 when only one side is given", () => {
    expect(wantedMode(feedOf({ width: 640, height: 360, framerate: 25 }), { native: UHD60 }, true)).toEqual({
      width: 640,
      height: 360,
      framerate: 25,
    });
    expect(wantedMode(feedOf({ height: 540 }), { native: UHD60 }, true)).toEqual({
      width: 960,
      height: 540,
      framerate: 30,
    });
  });

  it("fits a mode within a limit keeping its aspect ratio and even sizes", () => {
    expect(
      fitWithin({ width: 1024, height: 768, framerate: 60 }, { width: 800, height: 800, framerate: 30 }),
    ).toEqual({
      width: 800,
      height: 600,
      framerate: 30,
    });
  });
});

describe("degradation ladders", () => {
  it("ultrasound keeps its frame rate on every step and gives up size", () => {
    const ladder = buildLadder(FULL_HD60, "framerate", 0.04);
    expect(ladder.map(({ width, height, framerate }) => [width, height, framerate])).toEqual([
      [1920, 1080, 60],
      [1440, 810, 60],
      [960, 540, 60],
      [718, 404, 60],
      [480, 270, 60],
    ]);
    expect(ladder.every((rung, i) => i === 0 || rung.minKbps < (ladder[i - 1]?.minKbps ?? 0))).toBe(true);
  });

  it("the document camera keeps its size until a slide show, then halves it as the last resort", () => {
    const ladder = buildLadder({ width: 3840, height: 2160, framerate: 15 }, "resolution", 0.02);
    expect(ladder.map(({ width, height, framerate }) => [width, height, framerate])).toEqual([
      [3840, 2160, 15],
      [3840, 2160, 10],
      [3840, 2160, 5],
      [3840, 2160, 2],
      [1920, 1080, 2],
    ]);
  });

  it("the room camera gives up size and frame rate in turn", () => {
    const ladder = buildLadder({ width: 1280, height: 720, framerate: 30 }, "balanced", 0.035);
    expect(ladder.map(({ width, height, framerate }) => [width, height, framerate])).toEqual([
      [1280, 720, 30],
      [852, 480, 30],
      [852, 480, 20],
      [640, 360, 20],
      [426, 240, 15],
    ]);
  });

  it("stops before a picture too small to be worth sending", () => {
    const ladder = buildLadder({ width: 640, height: 360, framerate: 30 }, "framerate", 0.04);
    expect(ladder.map((rung) => rung.height)).toEqual([360, 270, 180]);
  });
});

describe("profile and rung choice", () => {
  it("a profile from the role: start bitrate within the floor and ceiling, and the role's policy", () => {
    const profile = feedProfile(feedOf({ role: "ultrasound" }), FULL_HD60);
    expect(profile.policy).toMatchObject({ keep: "framerate", minBitrateKbps: 300, maxBitrateKbps: 8000 });
    expect(profile.bitrateKbps).toBe(7466);
    const capped = feedProfile(feedOf({ role: "camera" }), { width: 1920, height: 1080, framerate: 30 });
    expect(capped.bitrateKbps).toBe(3266);
  });

  it("the config's degradation overrides win, and a set bitrate is kept within them", () => {
    const profile = feedProfile(
      feedOf({
        role: "ultrasound",
        bitrateKbps: 9000,
        degradation: { maxBitrateKbps: 6000, keep: "balanced" },
      }),
      CAPTURE_720P,
    );
    expect(profile.policy).toMatchObject({ keep: "balanced", maxBitrateKbps: 6000 });
    expect(profile.bitrateKbps).toBe(6000);
  });

  const policy: DegradationPolicy = {
    keep: "framerate",
    minBitrateKbps: 300,
    maxBitrateKbps: 8000,
    ladder: buildLadder({ width: 1280, height: 720, framerate: 30 }, "framerate", 0.04),
  };
  const needs = policy.ladder.map((rung) => rung.minKbps);

  it.each([
    ["plenty of bitrate keeps the full mode", 0, 5000, 0],
    ["a drop below the rung's need steps down at once, as far as needed", 0, 500, 2],
    ["below every rung: the last one", 0, 50, policy.ladder.length - 1],
    ["just above the better rung's need is not enough to climb (margin)", 1, (needs[0] ?? 0) + 1, 1],
    ["with the margin it climbs one rung", 2, Math.ceil((needs[1] ?? 0) * STEP_UP_MARGIN), 1],
    ["it climbs one rung at a time, however much there is", 3, 100_000, 2],
  ])("%s", (_, current, target, expected) => {
    expect(rungFor(policy, current, target)).toBe(expected);
  });

  it("a bitrate trace from good to poor and back: steps down fast, up slowly, never flaps at an edge", () => {
    const edge = needs[1] ?? 0;
    const trace = [3000, 3000, 800, 800, edge - 1, edge + 1, edge - 1, edge + 1, 3000, 3000, 3000];
    const steps: number[] = [];
    let step = 0;
    for (const kbps of trace) {
      step = rungFor(policy, step, kbps);
      steps.push(step);
    }
    expect(steps).toEqual([0, 0, 1, 1, 2, 2, 2, 2, 1, 0, 0]);
  });
});
