import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseArecordList, parseProcAsound } from "../../agent/core/devices/alsa.js";
import {
  classifyFourcc,
  parseDeviceInfo,
  parseListDevices,
  parseListFormatsExt,
} from "../../agent/core/devices/v4l2.js";

const fixture = (name: string) => readFileSync(`test/fixtures/devices/${name}`, "utf8");

describe("v4l2-ctl --list-formats-ext", () => {
  it("reads a UVC webcam's formats, sizes and rates in the device's order (C920: YUYV, H264, MJPG)", () => {
    const formats = parseListFormatsExt(fixture("c920-list-formats-ext.txt"));
    expect(formats.map((f) => [f.fourcc, f.kind, f.gstFormat])).toEqual([
      ["YUYV", "raw", "YUY2"],
      ["H264", "h264", undefined],
      ["MJPG", "mjpeg", undefined],
    ]);
    const [yuyv, , mjpg] = formats;
    expect(yuyv?.description).toBe("YUYV 4:2:2");
    expect(yuyv?.sizes).toHaveLength(19);
    expect(yuyv?.sizes[0]).toEqual({
      type: "discrete",
      width: 640,
      height: 480,
      rates: { type: "discrete", fps: [30, 24, 20, 15, 10, 7.5, 5] },
    });
    expect(yuyv?.sizes.find((s) => s.type === "discrete" && s.width === 1920)?.rates).toEqual({
      type: "discrete",
      fps: [5],
    });
    expect(mjpg?.sizes.at(-1)).toMatchObject({
      width: 1920,
      height: 1080,
      rates: { fps: [30, 24, 20, 15, 10, 7.5, 5] },
    });
  });

  it("reads an HDMI dongle that offers 1080p60 only as MJPEG (MS2109)", () => {
    const [mjpg, yuyv] = parseListFormatsExt(fixture("ms2109-list-formats-ext.txt"));
    expect(mjpg?.fourcc).toBe("MJPG");
    expect(mjpg?.sizes[0]).toMatchObject({ width: 1920, height: 1080, rates: { fps: [60, 50, 30, 20, 10] } });
    expect(yuyv?.sizes[0]).toMatchObject({ width: 1920, height: 1080, rates: { fps: [5] } });
    expect(yuyv?.sizes).toHaveLength(11);
  });

  it("reads the older Index / Pixel Format / Name layout", () => {
    const formats = parseListFormatsExt(fixture("doccam-list-formats-ext.txt"));
    expect(formats.map((f) => `${f.fourcc}:${f.description}:${f.sizes.length}`)).toEqual([
      "MJPG:Motion-JPEG:5",
      "YUYV:YUYV 4:2:2:3",
    ]);
    expect(formats[0]?.sizes[2]).toMatchObject({ width: 1920, height: 1080, rates: { fps: [30, 15] } });
  });

  it("reads stepwise and continuous sizes and interval ranges", () => {
    const [nv12, yu12] = parseListFormatsExt(fixture("stepwise-list-formats-ext.txt"));
    expect(nv12).toMatchObject({ fourcc: "NV12", kind: "raw", gstFormat: "NV12" });
    expect(nv12?.sizes).toEqual([
      {
        type: "stepwise",
        minWidth: 32,
        minHeight: 32,
        maxWidth: 1920,
        maxHeight: 1088,
        stepWidth: 2,
        stepHeight: 2,
        rates: { type: "range", minFps: 1, maxFps: 30 },
      },
    ]);
    expect(yu12?.gstFormat).toBe("I420");
    expect(yu12?.sizes[0]).toMatchObject({ stepWidth: 1, stepHeight: 1, rates: { minFps: 1, maxFps: 60 } });
  });

  it("marks a Pi camera's Bayer formats behind unicam as such, with no rates", () => {
    const formats = parseListFormatsExt(fixture("unicam-list-formats-ext.txt"));
    expect(formats.map((f) => [f.fourcc, f.kind])).toEqual([
      ["pRAA", "bayer"],
      ["RG10", "bayer"],
    ]);
  });

  it("keeps only capture formats when output formats are listed too", () => {
    const text = [
      "ioctl: VIDIOC_ENUM_FMT",
      "\tType: Video Output Multiplanar",
      "",
      "\t[0]: 'H264' (H.264, compressed)",
      "\t\tSize: Discrete 1920x1080",
      "\tType: Video Capture Multiplanar",
      "",
      "\t[0]: 'YU12' (Planar YUV 4:2:0)",
      "\t\tSize: Discrete 1920x1080",
    ].join("\n");
    expect(parseListFormatsExt(text).map((f) => f.fourcc)).toEqual(["YU12"]);
    expect(parseListFormatsExt("")).toEqual([]);
  });

  it("classifies fourccs", () => {
    expect(classifyFourcc("NV12")).toEqual({ kind: "raw", gstFormat: "NV12" });
    expect(classifyFourcc("JPEG")).toEqual({ kind: "mjpeg" });
    expect(classifyFourcc("BA81").kind).toBe("bayer");
    expect(classifyFourcc("Y10B").kind).toBe("other");
  });
});

describe("v4l2-ctl --list-devices", () => {
  it("groups a Pi's nodes by device, names with colons included", () => {
    const devices = parseListDevices(fixture("pi-list-devices.txt"));
    expect(devices.map((d) => [d.name, d.bus, d.videoNodes.length])).toEqual([
      ["bcm2835-codec-decode", "platform:bcm2835-codec", 5],
      ["bcm2835-isp", "platform:bcm2835-isp", 8],
      ["unicam", "platform:fe801000.csi", 1],
      ["rpivid", "platform:rpivid", 1],
      ["HD Pro Webcam C920", "usb-0000:01:00.0-1.2", 2],
      ["USB Video: USB Video", "usb-0000:01:00.0-1.3", 2],
    ]);
    expect(devices[4]?.videoNodes).toEqual(["/dev/video1", "/dev/video2"]);
    expect(devices[4]?.mediaNodes).toEqual(["/dev/media5"]);
  });
});

describe("v4l2-ctl --info", () => {
  it("tells a UVC capture node from its metadata node and from a codec", () => {
    const capture = parseDeviceInfo(fixture("c920-info.txt"));
    expect(capture).toEqual({
      driver: "uvcvideo",
      card: "HD Pro Webcam C920",
      bus: "usb-0000:01:00.0-1.2",
      deviceCaps: ["Video Capture", "Streaming", "Extended Pix Format"],
      capture: true,
    });
    const metadata = parseDeviceInfo(fixture("c920-metadata-info.txt"));
    expect(metadata.deviceCaps).toEqual(["Metadata Capture", "Streaming", "Extended Pix Format"]);
    expect(metadata.capture).toBe(false);
    const codec = parseDeviceInfo(fixture("codec-info.txt"));
    expect(codec).toMatchObject({ driver: "bcm2835-codec", capture: false });
  });
});

describe("ALSA capture devices", () => {
  const expected = [
    {
      id: "hw:CARD=C920,DEV=0",
      card: 1,
      cardId: "C920",
      cardName: "HD Pro Webcam C920",
      device: 0,
      deviceName: "USB Audio",
    },
    {
      id: "hw:CARD=MS2109,DEV=0",
      card: 2,
      cardId: "MS2109",
      cardName: "MS2109",
      device: 0,
      deviceName: "USB Audio",
    },
  ];

  it("reads arecord -l", () => {
    expect(parseArecordList(fixture("arecord-l.txt"))).toEqual(expected);
  });

  it("reads /proc/asound/cards and pcm to the same facts, leaving out playback-only PCMs", () => {
    expect(parseProcAsound(fixture("proc-asound-cards.txt"), fixture("proc-asound-pcm.txt"))).toEqual(
      expected,
    );
  });

  it("finds nothing in empty output", () => {
    expect(parseArecordList("")).toEqual([]);
    expect(parseProcAsound("--- no soundcards ---\n", "")).toEqual([]);
  });
});
