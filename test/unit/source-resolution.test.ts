import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { SystemDevices } from "../../agent/adapters/devices/system-devices.js";
import { SystemSourceResolver } from "../../agent/adapters/devices/system-source-resolver.js";
import { parseConfig } from "../../agent/config/validate.js";
import { nativeMode } from "../../agent/core/devices/native.js";
import { videoReport } from "../../agent/core/devices/report.js";
import { sourceFactsFor } from "../../agent/core/devices/source-facts.js";
import { parseListFormatsExt } from "../../agent/core/devices/v4l2.js";
import { plannedFeed } from "../helpers/agent-fixtures.js";
import { configInput } from "../helpers/config.js";

// The devices are fixtures (recorded tool output); what is tested is the lookup and the choice.
const dongleFormats = parseListFormatsExt(
  readFileSync("test/fixtures/devices/ms2109-list-formats-ext.txt", "utf8"),
);
const webcamFormats = parseListFormatsExt(
  readFileSync("test/fixtures/devices/c920-list-formats-ext.txt", "utf8"),
);
const DONGLE = "/dev/v4l/by-id/usb-MACROSILICON_USB_Video-video-index0";
const WEBCAM = "/dev/v4l/by-id/usb-046d_HD_Pro_Webcam_C920_ABCD1234-video-index0";

/** The box today: the dongle is /dev/video2 and the webcam /dev/video0; after a replug they may swap. */
function devices(dongleNode = "/dev/video2"): SystemDevices {
  const found = videoReport([
    {
      node: dongleNode,
      byId: [DONGLE],
      byPath: [],
      usb: { vendor: "534d", product: "2109" },
      name: "USB Video",
      index: 0,
      capture: true,
      driver: "uvcvideo",
      bus: "usb-0000:01:00.0-1.1",
      formats: dongleFormats,
    },
    {
      node: "/dev/video0",
      byId: [WEBCAM],
      byPath: [],
      usb: { vendor: "046d", product: "082d", serial: "ABCD1234" },
      name: "HD Pro Webcam C920",
      index: 0,
      capture: true,
      driver: "uvcvideo",
      bus: "usb-0000:01:00.0-1.2",
      formats: webcamFormats,
    },
  ]);
  return { ...found, audio: [], notes: [] };
}

function configWith(feed: Record<string, unknown>) {
  return parseConfig(
    configInput({
      feeds: [{ id: "f", whip: { url: "http://h/w" }, width: undefined, height: undefined, ...feed }],
    }),
    "test",
  );
}

describe("resolving a V4L2 source at each start", () => {
  const full = { width: 1920, height: 1080, framerate: 30 };

  it("finds today's node from the stable id, and takes MJPEG where raw cannot give 1080p30", async () => {
    const settings = plannedFeed(
      configWith({ role: "ultrasound", source: { type: "v4l2", device: DONGLE } }),
    );
    const plan = await new SystemSourceResolver(async () => devices()).resolve(settings, full);
    expect(plan).toEqual({
      type: "v4l2",
      device: "/dev/video2",
      capture: { format: "mjpeg", width: 1920, height: 1080, framerate: 30 },
      jpegDecoder: "jpegdec",
    });
  });

  it("follows the device to its new node after a replug", async () => {
    const settings = plannedFeed(configWith({ source: { type: "v4l2", device: DONGLE } }));
    const plan = await new SystemSourceResolver(async () => devices("/dev/video4")).resolve(settings, full);
    expect(plan).toMatchObject({ device: "/dev/video4" });
  });

  it("finds a device by its USB id, and takes raw when raw meets the mode", async () => {
    const settings = plannedFeed(configWith({ source: { type: "v4l2", device: "046d:082d:ABCD1234" } }));
    const plan = await new SystemSourceResolver(async () => devices()).resolve(settings, {
      width: 640,
      height: 480,
      framerate: 30,
    });
    expect(plan).toMatchObject({
      device: "/dev/video0",
      capture: { format: "raw", rawFormat: "YUY2", width: 640 },
    });
  });

  it("keeps to the configured format", async () => {
    const settings = plannedFeed(configWith({ source: { type: "v4l2", device: WEBCAM, format: "raw" } }));
    const plan = await new SystemSourceResolver(async () => devices()).resolve(settings, full);
    // Raw 1080p on USB 2 is a slide show, but the configuration asked for raw.
    expect(plan).toMatchObject({ capture: { format: "raw", rawFormat: "YUY2" } });
  });

  it("says a device that is not plugged in is missing, so the feed waits for it", async () => {
    const settings = plannedFeed(
      configWith({ source: { type: "v4l2", device: "/dev/v4l/by-id/usb-Unplugged_Camera-video-index0" } }),
    );
    await expect(
      new SystemSourceResolver(async () => devices()).resolve(settings, full),
    ).rejects.toMatchObject({
      code: "SPOKE_FEED_SOURCE_MISSING",
      message: "capture device /dev/v4l/by-id/usb-Unplugged_Camera-video-index0 is not plugged in",
    });
  });

  it("opens a link of a udev rule as it is, without looking it up", async () => {
    const settings = plannedFeed(configWith({ source: { type: "v4l2", device: "/dev/ultrasound" } }));
    const resolver = new SystemSourceResolver(async () => {
      throw new Error("not looked up");
    });
    expect(await resolver.resolve(settings, full)).toMatchObject({
      device: "/dev/ultrasound",
      capture: { format: "raw" },
    });
  });
});

describe("what planning knows of the devices", () => {
  it("a device's native mode is its largest picture at its best rate", () => {
    expect(nativeMode(dongleFormats)).toEqual({ width: 1920, height: 1080, framerate: 60 });
  });

  it("gives the ultrasound the dongle's own mode, and notes the USB bus each capture takes", () => {
    const config = configWith({ role: "ultrasound", source: { type: "v4l2", device: DONGLE } });
    const facts = sourceFactsFor(config.feeds, devices().video, "raspberry-pi-4");
    expect(facts.get("f")).toMatchObject({
      native: { width: 1920, height: 1080, framerate: 60 },
      capture: { usbBus: "usb-0000:01:00.0", usb2: true },
    });
  });

  it("knows nothing of a device that is not plugged in: it is planned as a nominal source", () => {
    const config = configWith({ source: { type: "v4l2", device: "046d:0000" } });
    expect(sourceFactsFor(config.feeds, devices().video, "generic").size).toBe(0);
  });
});
