import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { buildDevicesReport, formatDevicesReport, videoReport } from "../../agent/core/devices/report.js";
import { parseListFormatsExt } from "../../agent/core/devices/v4l2.js";

const formats = parseListFormatsExt(
  readFileSync("test/fixtures/devices/ms2109-list-formats-ext.txt", "utf8"),
);
const ID = "/dev/v4l/by-id/usb-MACROSILICON_USB_Video-video-index0";

const found = {
  ...videoReport([
    {
      node: "/dev/video0",
      byId: [ID],
      byPath: [],
      usb: { vendor: "534d", product: "2109" },
      name: "USB Video",
      index: 0,
      capture: true,
      driver: "uvcvideo",
      formats,
    },
    {
      node: "/dev/video1",
      byId: [ID.replace("index0", "index1")],
      byPath: [],
      usb: { vendor: "534d", product: "2109" },
      index: 1,
      capture: false,
    },
    {
      node: "/dev/video10",
      byId: [],
      byPath: [],
      name: "bcm2835-codec-decode",
      capture: false,
      driver: "bcm2835-codec",
    },
  ]),
  audio: [
    {
      id: "hw:CARD=MS2109,DEV=0",
      card: 2,
      cardId: "MS2109",
      cardName: "MS2109",
      device: 0,
      deviceName: "USB Audio",
    },
  ],
  notes: ["a note"],
};

describe("the devices report", () => {
  it("has one entry per device, named by its stable id, and the non-cameras apart", () => {
    const report = buildDevicesReport(found, []);
    expect(report.video.map((v) => [v.id, v.node])).toEqual([[ID, "/dev/video0"]]);
    expect(report.skipped.map((s) => s.node)).toEqual(["/dev/video10"]);
  });

  it("prints one line per format with each size at its highest rate", () => {
    const text = formatDevicesReport(
      buildDevicesReport(found, [
        { id: "x264", element: "x264enc", hardware: false, usable: true },
        {
          id: "v4l2",
          element: "v4l2h264enc",
          hardware: true,
          usable: false,
          reason: "element not installed",
        },
      ]),
    );
    const lines = text.split("\n");
    expect(lines.slice(0, 5)).toEqual([
      "video:",
      `  USB Video: ${ID}`,
      "    now /dev/video0, uvcvideo, usb 534d:2109",
      "    MJPG (MJPEG): 1920x1080@60 1600x1200@60 1360x768@60 1280x1024@60 1280x960@60 1280x720@60 1024x768@60 800x600@60 720x576@60 720x480@60 640x480@60",
      "    YUYV (raw YUY2): 1920x1080@5 1600x1200@5 1360x768@10 1280x1024@10 1280x960@10 1280x720@10 1024x768@10 800x600@20 720x576@25 720x480@30 640x480@30",
    ]);
    expect(lines.slice(5)).toEqual([
      "audio:",
      "  hw:CARD=MS2109,DEV=0: MS2109 (USB Audio)",
      "encoders:",
      "  x264enc (software): usable",
      "  v4l2h264enc (hardware): not usable: element not installed",
      "skipped:",
      "  /dev/video10 bcm2835-codec-decode: memory-to-memory codec or ISP, not a camera",
      "note: a note",
    ]);
  });

  it("says so when there is nothing", () => {
    const text = formatDevicesReport(
      buildDevicesReport({ video: [], audio: [], skipped: [], notes: [] }, []),
    );
    expect(text).toBe("video:\n  none\naudio:\n  none\nencoders:\n  none");
  });
});
