import { describe, expect, it } from "vitest";
import { parseConfig } from "../../agent/config/validate.js";
import { macroblocksPerSecond, type PlanRequest, planCapacity } from "../../agent/core/capacity.js";
import {
  detectPlatform,
  ENCODER_ORDER,
  type Platform,
  type ProbeResult,
  usableEncoders,
} from "../../agent/core/encoder-choice.js";
import { chooseJpegDecoder, type MediaEnvironment, planFeeds } from "../../agent/core/feed-plan.js";
import type { EncoderId } from "../../pipelines/encoders.js";
import { configInput } from "../helpers/config.js";

const proven = (...ids: EncoderId[]): ProbeResult[] =>
  ids.map((encoder) => ({ encoder, usable: true, detail: "test encode" }));

/** The encoder a single feed of this size gets on the platform, through the planner as the agent does. */
function chosen(platform: Platform, probes: readonly ProbeResult[], width: number, framerate = 30) {
  const mode = { width, height: Math.round((width * 9) / 32) * 2, framerate };
  const outcome = planCapacity(platform, [
    {
      id: "f",
      role: "ultrasound",
      keep: "framerate",
      wanted: { hardware: mode, software: mode },
      explicit: true,
      encoders: usableEncoders(platform, probes),
    },
  ]);
  return outcome.ok ? outcome.plan.feeds[0] : undefined;
}

describe("platform detection", () => {
  it.each([
    [
      { deviceTreeModel: "Raspberry Pi 4 Model B Rev 1.4", renderNodeVendors: [], tegra: false },
      "raspberry-pi-4",
    ],
    [
      { deviceTreeModel: "Raspberry Pi Compute Module 4 Rev 1.0", renderNodeVendors: [], tegra: false },
      "raspberry-pi-4",
    ],
    [
      { deviceTreeModel: "Raspberry Pi 5 Model B Rev 1.0", renderNodeVendors: [], tegra: false },
      "raspberry-pi-5",
    ],
    [
      { deviceTreeModel: "NVIDIA Jetson Orin Nano Developer Kit", renderNodeVendors: [], tegra: true },
      "jetson",
    ],
    [{ renderNodeVendors: ["0x8086"], tegra: false }, "intel"],
    [{ renderNodeVendors: ["0x8086", "0x10de"], tegra: false }, "nvidia"],
    [{ renderNodeVendors: [], tegra: false }, "generic"],
  ] as const)("%j is %s", (facts, platform) => {
    expect(detectPlatform(facts)).toBe(platform);
  });
});

describe("encoder choice from probe results", () => {
  it.each([
    ["raspberry-pi-4", proven("v4l2h264enc", "x264enc", "openh264enc"), "v4l2h264enc", true],
    // A Pi 4 whose encoder failed its test encode (firmware, memory split): software.
    [
      "raspberry-pi-4",
      [{ encoder: "v4l2h264enc", usable: false, detail: "x" }, ...proven("x264enc")],
      "x264enc",
      false,
    ],
    // A Pi 5 has no encoder block: x264 first, openh264 where x264 is missing.
    ["raspberry-pi-5", proven("x264enc", "openh264enc"), "x264enc", false],
    ["raspberry-pi-5", proven("openh264enc"), "openh264enc", false],
    ["intel", proven("vah264enc", "vaapih264enc", "qsvh264enc", "x264enc"), "vah264enc", true],
    ["intel", proven("vaapih264enc", "x264enc"), "vaapih264enc", true],
    ["nvidia", proven("nvh264enc", "x264enc"), "nvh264enc", true],
    ["jetson", proven("nvv4l2h264enc", "x264enc"), "nvv4l2h264enc", true],
  ] as const)("%s with %j takes %s", (platform, probes, encoder, hardware) => {
    expect(chosen(platform, probes, 1280)).toMatchObject({ encoder, hardware });
  });

  it("finds nothing when no encoder passed", () => {
    expect(chosen("generic", [{ encoder: "x264enc", usable: false, detail: "x" }], 1280)).toBeUndefined();
  });

  it("passes over the Pi 4's encoder for a picture wider than 1920", () => {
    expect(chosen("raspberry-pi-4", proven("v4l2h264enc", "x264enc"), 3840, 2)?.encoder).toBe("x264enc");
  });

  it("takes the configured encoder when it passed, and nothing else when it did not", () => {
    expect(usableEncoders("intel", proven("vah264enc", "x264enc"), "x264enc")).toEqual(["x264enc"]);
    expect(usableEncoders("intel", proven("vah264enc"), "x264enc")).toEqual([]);
  });

  it("orders hardware before software on every platform, and ends with the software fallbacks", () => {
    for (const order of Object.values(ENCODER_ORDER))
      expect(order.slice(-2)).toEqual(["x264enc", "openh264enc"]);
  });

  it("decodes MJPEG in hardware where the platform can", () => {
    expect(chooseJpegDecoder("raspberry-pi-4", ["v4l2jpegdec", "jpegdec"])).toBe("v4l2jpegdec");
    expect(chooseJpegDecoder("intel", ["jpegdec"])).toBe("jpegdec");
    expect(chooseJpegDecoder("intel", ["vajpegdec", "jpegdec"])).toBe("vajpegdec");
  });
});

function request(overrides: Partial<PlanRequest> & Pick<PlanRequest, "id" | "role">): PlanRequest {
  const mode = { width: 1920, height: 1080, framerate: 30 };
  return {
    keep:
      overrides.role === "ultrasound"
        ? "framerate"
        : overrides.role === "document"
          ? "resolution"
          : "balanced",
    wanted: { hardware: mode, software: mode },
    explicit: false,
    encoders: ["x264enc"],
    ...overrides,
  };
}

describe("capacity plan", () => {
  const pi4Encoders: EncoderId[] = ["v4l2h264enc", "x264enc"];

  it("a Pi 4's one hardware encoder goes to the ultrasound first; the others fall back to software, lowered", () => {
    const outcome = planCapacity("raspberry-pi-4", [
      request({ id: "room", role: "camera", encoders: pi4Encoders }),
      request({ id: "doc", role: "document", encoders: pi4Encoders }),
      request({ id: "us", role: "ultrasound", encoders: pi4Encoders }),
    ]);
    if (!outcome.ok) throw new Error(outcome.error);
    const byId = Object.fromEntries(outcome.plan.feeds.map((feed) => [feed.id, feed]));
    expect(outcome.plan.feeds.map((feed) => feed.id)).toEqual(["room", "doc", "us"]);
    expect(byId.us).toMatchObject({
      encoder: "v4l2h264enc",
      hardware: true,
      mode: { width: 1920, height: 1080 },
    });
    expect(byId.us?.lowered).toBeUndefined();
    expect(byId.room).toMatchObject({ encoder: "x264enc", hardware: false });
    expect(byId.room?.lowered).toMatch(/does not fit/);
    expect(outcome.plan.hardware.usedMbPerSecond).toBe(
      macroblocksPerSecond({ width: 1920, height: 1080, framerate: 30 }),
    );
    expect(outcome.plan.software.usedMbPerSecond).toBeLessThanOrEqual(
      outcome.plan.software.capacityMbPerSecond,
    );
  });

  it("lowers a document camera along its own ladder: frame rate goes before size", () => {
    const outcome = planCapacity("raspberry-pi-5", [
      request({ id: "us", role: "ultrasound" }),
      request({
        id: "doc",
        role: "document",
        wanted: {
          hardware: { width: 3840, height: 2160, framerate: 15 },
          software: { width: 3840, height: 2160, framerate: 15 },
        },
      }),
    ]);
    if (!outcome.ok) throw new Error(outcome.error);
    expect(outcome.plan.feeds[1]).toMatchObject({ id: "doc", mode: { width: 3840, height: 2160 } });
    expect(outcome.plan.feeds[1]?.mode.framerate).toBeLessThan(15);
  });

  it("refuses, naming what to lower, a size the configuration set and the box cannot encode", () => {
    const uhd = { width: 3840, height: 2160, framerate: 30 };
    const outcome = planCapacity("raspberry-pi-5", [
      request({ id: "us", role: "ultrasound" }),
      request({ id: "doc", role: "document", explicit: true, wanted: { hardware: uhd, software: uhd } }),
    ]);
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.error).toMatch(/^feeds\[1\] \(doc, document\): 3840x2160@30 needs 972000 macroblocks\/s/);
    expect(outcome.error).toMatch(/lower feeds\[1\]\.width\/height or feeds\[1\]\.framerate/);
  });

  it("keeps room in the hardware for later feeds that can only use the hardware", () => {
    const hardwareOnly: EncoderId[] = ["v4l2h264enc"];
    const outcome = planCapacity("raspberry-pi-4", [
      request({ id: "room", role: "camera", encoders: hardwareOnly }),
      request({ id: "doc", role: "document", encoders: hardwareOnly }),
      request({ id: "us", role: "ultrasound", encoders: hardwareOnly }),
    ]);
    if (!outcome.ok) throw new Error(outcome.error);
    expect(outcome.plan.feeds.every((feed) => feed.hardware)).toBe(true);
    // The ultrasound gave up size, not frame rate, so that the other two could have their smallest steps.
    expect(outcome.plan.feeds[2]?.mode).toMatchObject({ width: 1440, height: 810, framerate: 30 });
    expect(outcome.plan.hardware.usedMbPerSecond).toBeLessThanOrEqual(
      outcome.plan.hardware.capacityMbPerSecond,
    );
  });

  it("suggests a size that really fits what is left for the refused feed", () => {
    const uhd = { width: 3840, height: 2160, framerate: 30 };
    const outcome = planCapacity("raspberry-pi-5", [
      request({ id: "doc", role: "document", explicit: true, wanted: { hardware: uhd, software: uhd } }),
    ]);
    if (outcome.ok) throw new Error("a Pi 5 cannot encode 4K30");
    const suggested = /\((\d+)x(\d+)@(\d+) would fit\)/.exec(outcome.error);
    expect(suggested).not.toBeNull();
    const [width, height, framerate] = (suggested ?? []).slice(1).map(Number);
    const retry = planCapacity("raspberry-pi-5", [
      request({
        id: "doc",
        role: "document",
        explicit: true,
        wanted: {
          hardware: { width: width ?? 0, height: height ?? 0, framerate: framerate ?? 0 },
          software: { width: width ?? 0, height: height ?? 0, framerate: framerate ?? 0 },
        },
      }),
    ]);
    expect(retry.ok).toBe(true);
  });

  it("refuses a feed without any usable encoder", () => {
    const outcome = planCapacity("generic", [request({ id: "room", role: "camera", encoders: [] })]);
    expect(outcome).toEqual({ ok: false, error: "feeds[0] (room): no usable H.264 encoder for it" });
  });

  it("warns when the USB 2 captures on one bus need more than it can reserve (UVC then fails with ENOSPC)", () => {
    const capture = (bytesPerSecond: number) => ({ usbBus: "usb-0000:01:00.0", bytesPerSecond, usb2: true });
    const outcome = planCapacity("raspberry-pi-4", [
      request({ id: "room", role: "camera", encoders: pi4Encoders, capture: capture(20e6) }),
      request({ id: "doc", role: "document", encoders: pi4Encoders, capture: capture(20e6) }),
      request({ id: "us", role: "ultrasound", encoders: pi4Encoders, capture: capture(20e6) }),
    ]);
    if (!outcome.ok) throw new Error(outcome.error);
    expect(outcome.plan.warnings).toEqual([
      "USB 2 bus usb-0000:01:00.0: room, doc, us together need 60 MB/s of 48; capture may fail with ENOSPC: use MJPEG, lower sizes, or move a device to another bus",
    ]);
  });
});

describe("feed planning from the configuration", () => {
  const feeds = [
    { id: "room-camera", role: "camera", source: { type: "test" }, whip: { url: "http://h/a" } },
    { id: "document", role: "document", source: { type: "test" }, whip: { url: "http://h/b" } },
    { id: "ultrasound", role: "ultrasound", source: { type: "test" }, whip: { url: "http://h/c" } },
  ];
  const config = parseConfig(configInput({ feeds }), "test");
  const environment = (platform: Platform, probes: ProbeResult[]): MediaEnvironment => ({
    platform,
    probes,
    jpegDecoders: ["jpegdec"],
  });

  it("on a box with software encoders only: each feed gets x264, its role's mode and profile", () => {
    const planning = planFeeds(
      config.feeds,
      environment("generic", proven("x264enc", "openh264enc")),
      new Map(),
    );
    if (!planning.ok) throw new Error(planning.error);
    expect(planning.feeds.map((feed) => [feed.feed.id, feed.encoder, feed.profile.mode])).toEqual([
      ["room-camera", "x264enc", { width: 1280, height: 720, framerate: 30 }],
      ["document", "x264enc", { width: 1920, height: 1080, framerate: 15 }],
      ["ultrasound", "x264enc", { width: 1920, height: 1080, framerate: 30 }],
    ]);
    expect(planning.feeds.map((feed) => feed.profile.policy.keep)).toEqual([
      "balanced",
      "resolution",
      "framerate",
    ]);
  });

  it("the source's native mode decides the ultrasound's size and rate", () => {
    const sources = new Map([["ultrasound", { native: { width: 1280, height: 1024, framerate: 60 } }]]);
    const planning = planFeeds(config.feeds, environment("intel", proven("vah264enc", "x264enc")), sources);
    if (!planning.ok) throw new Error(planning.error);
    expect(planning.feeds[2]).toMatchObject({
      encoder: "vah264enc",
      hardware: true,
      profile: { mode: { width: 1280, height: 1024, framerate: 60 } },
    });
  });
});
