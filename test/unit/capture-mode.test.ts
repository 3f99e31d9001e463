import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { type CaptureProfile, chooseCaptureMode } from "../../agent/core/devices/capture-mode.js";
import { parseListFormatsExt, type VideoFormat } from "../../agent/core/devices/v4l2.js";
import { isSpokeError } from "../../agent/core/errors.js";

const formatsOf = (name: string) =>
  parseListFormatsExt(readFileSync(`test/fixtures/devices/${name}`, "utf8"));
const c920 = formatsOf("c920-list-formats-ext.txt");
const ms2109 = formatsOf("ms2109-list-formats-ext.txt");
const doccam = formatsOf("doccam-list-formats-ext.txt");
const stepwise = formatsOf("stepwise-list-formats-ext.txt");

const p = (width: number, height: number, framerate: number): CaptureProfile => ({
  width,
  height,
  framerate,
});
const mode = (formats: VideoFormat[], profile: CaptureProfile) => {
  const { format, fourcc, width, height, framerate } = chooseCaptureMode(formats, profile);
  return `${format} ${fourcc} ${width}x${height}@${framerate}`;
};

describe("chooseCaptureMode", () => {
  it.each([
    // Raw meets the profile: no decode.
    ["C920 640x480@30", c920, p(640, 480, 30), "raw YUYV 640x480@30"],
    ["C920 640x480@15: the lowest rate that meets it", c920, p(640, 480, 15), "raw YUYV 640x480@15"],
    // USB 2 raw 720p is 10 fps: MJPEG keeps the frame rate.
    ["C920 1280x720@30", c920, p(1280, 720, 30), "mjpeg MJPG 1280x720@30"],
    ["C920 1920x1080@30", c920, p(1920, 1080, 30), "mjpeg MJPG 1920x1080@30"],
    ["C920 1280x720@10: raw meets it", c920, p(1280, 720, 10), "raw YUYV 1280x720@10"],
    // Nothing meets 60 fps: the highest rate at the wanted size, never raw's 10.
    ["C920 1280x720@60", c920, p(1280, 720, 60), "mjpeg MJPG 1280x720@30"],
    // Not offered: the smallest size that covers it.
    ["C920 1280x800@30", c920, p(1280, 800, 30), "mjpeg MJPG 1600x896@30"],
    // Larger than anything at that rate: the largest below.
    ["C920 2560x1440@30", c920, p(2560, 1440, 30), "mjpeg MJPG 1920x1080@30"],
    // The HDMI dongle: 1080p60 is MJPEG only; raw tops out at 5 fps.
    ["MS2109 1920x1080@60", ms2109, p(1920, 1080, 60), "mjpeg MJPG 1920x1080@60"],
    ["MS2109 1920x1080@30", ms2109, p(1920, 1080, 30), "mjpeg MJPG 1920x1080@30"],
    ["MS2109 720x480@30", ms2109, p(720, 480, 30), "raw YUYV 720x480@30"],
    // 16:9 wanted, not offered: the 16:9 mode that covers it, not the nearer 4:3 one (1600x1200).
    ["MS2109 1440x810@30: the same aspect first", ms2109, p(1440, 810, 30), "mjpeg MJPG 1920x1080@30"],
    ["MS2109 720x576@25", ms2109, p(720, 576, 25), "raw YUYV 720x576@25"],
    ["document camera 1920x1080@15", doccam, p(1920, 1080, 15), "mjpeg MJPG 1920x1080@15"],
    [
      "document camera 3264x2448@30: a lower rate only when nothing meets it",
      doccam,
      p(3264, 2448, 30),
      "mjpeg MJPG 1920x1080@30",
    ],
    ["stepwise NV12 1280x720@30", stepwise, p(1280, 720, 30), "raw NV12 1280x720@30"],
    ["stepwise, above the range: YU12 reaches 60 fps", stepwise, p(1920, 1080, 60), "raw YU12 1920x1080@60"],
    ["stepwise 2560x1440@25: clamped to the largest", stepwise, p(2560, 1440, 25), "raw NV12 1920x1088@25"],
  ])("%s", (_name, formats, profile, expected) => {
    expect(mode(formats, profile)).toBe(expected);
  });

  it("never trades the frame rate for the size when a rate that meets the profile exists", () => {
    const onlyRaw = c920.filter((f) => f.kind === "raw");
    // Raw 1920x1080 is 5 fps; raw 800x448 is the largest that reaches 30.
    expect(mode(onlyRaw, p(1920, 1080, 30))).toBe("raw YUYV 800x448@30");
  });

  it("treats 29.97 as meeting 30", () => {
    const ntsc: VideoFormat[] = [
      {
        fourcc: "YUYV",
        description: "",
        kind: "raw",
        gstFormat: "YUY2",
        sizes: [
          { type: "discrete", width: 1280, height: 720, rates: { type: "discrete", fps: [29.97, 15] } },
        ],
      },
      {
        fourcc: "MJPG",
        description: "",
        kind: "mjpeg",
        sizes: [{ type: "discrete", width: 1280, height: 720, rates: { type: "discrete", fps: [60, 30] } }],
      },
    ];
    expect(mode(ntsc, p(1280, 720, 30))).toBe("raw YUYV 1280x720@29.97");
  });

  it("gives the GStreamer format for raw modes and a reason", () => {
    expect(chooseCaptureMode(c920, p(640, 480, 30))).toEqual({
      format: "raw",
      fourcc: "YUYV",
      gstFormat: "YUY2",
      width: 640,
      height: 480,
      framerate: 30,
      reason: "raw YUYV 640x480@30 meets 640x480@30",
    });
    expect(chooseCaptureMode(ms2109, p(1920, 1080, 30)).reason).toBe(
      "raw offers 1920x1080 at 5 fps at most; MJPEG 1920x1080@30 meets 1920x1080@30",
    );
    expect(chooseCaptureMode(c920, p(1280, 720, 60)).reason).toContain("nothing meets 60 fps");
  });

  it.each([
    ["a Bayer sensor behind unicam", formatsOf("unicam-list-formats-ext.txt"), "pRAA, RG10"],
    ["H.264 only", c920.filter((f) => f.kind === "h264"), "H264"],
    ["no formats at all", [], "no formats"],
  ])("refuses %s with SPOKE_DEVICE_NO_USABLE_MODE", (_name, formats, offered) => {
    let caught: unknown;
    try {
      chooseCaptureMode(formats, p(1280, 720, 30));
    } catch (error) {
      caught = error;
    }
    expect(isSpokeError(caught) && caught.code).toBe("SPOKE_DEVICE_NO_USABLE_MODE");
    expect(String((caught as Error).message)).toContain(offered);
  });
});
