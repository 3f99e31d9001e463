import { describe, expect, it } from "vitest";
import {
  groupByDevice,
  parseSourceId,
  resolveCaptureNode,
  stableIdOf,
  type VideoNodeEntry,
} from "../../agent/core/devices/identity.js";
import { isSpokeError } from "../../agent/core/errors.js";

const C920_ID = "/dev/v4l/by-id/usb-046d_HD_Pro_Webcam_C920_ABCD1234-video-index0";
const C920_PATH = "/dev/v4l/by-path/platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.2:1.0-video-index0";
const c920Usb = { vendor: "046d", product: "082d", serial: "ABCD1234" };

/** A Pi 4 with a C920 (capture + metadata node), two serial-less MS2109 dongles and the codec nodes. */
const entries: VideoNodeEntry[] = [
  { node: "/dev/video10", byId: [], byPath: [], name: "bcm2835-codec-decode", index: 0, capture: false },
  {
    node: "/dev/video2",
    byId: [C920_ID.replace("index0", "index1")],
    byPath: [C920_PATH.replace("index0", "index1")],
    usb: c920Usb,
    name: "HD Pro Webcam C920",
    index: 1,
    capture: false,
  },
  {
    node: "/dev/video1",
    byId: [C920_ID],
    byPath: [C920_PATH],
    usb: c920Usb,
    name: "HD Pro Webcam C920",
    index: 0,
    capture: true,
  },
  ...[3, 5].map((n, i) => ({
    node: `/dev/video${n}`,
    byId: [`/dev/v4l/by-id/usb-MACROSILICON_USB_Video-video-index0`],
    byPath: [`/dev/v4l/by-path/platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.${3 + i}:1.0-video-index0`],
    usb: { vendor: "534d", product: "2109" },
    name: "USB Video: USB Video",
    index: 0,
  })),
];

const codeOf = (f: () => unknown) => {
  try {
    f();
  } catch (error) {
    return isSpokeError(error) ? error.code : String(error);
  }
  return "no error";
};

describe("parseSourceId", () => {
  it.each([
    [C920_ID, { kind: "by-id", path: C920_ID }],
    [C920_PATH, { kind: "by-path", path: C920_PATH }],
    ["046d:082d:ABCD1234", { kind: "usb", vendor: "046d", product: "082d", serial: "ABCD1234" }],
    ["534D:2109", { kind: "usb", vendor: "534d", product: "2109" }],
  ])("reads %s", (text, expected) => {
    expect(parseSourceId(text)).toEqual(expected);
  });

  it.each(["/dev/video0", "/dev/v4l/by-id/", "webcam", "46d:82d"])("refuses %s", (text) => {
    expect(codeOf(() => parseSourceId(text))).toBe("SPOKE_DEVICE_ID_UNSTABLE");
  });

  it("says why a bare /dev/videoN is refused", () => {
    expect(() => parseSourceId("/dev/video0")).toThrow(/renumbers when devices are replugged/);
  });
});

describe("resolveCaptureNode", () => {
  it.each([
    ["by-id", C920_ID],
    ["by-path", C920_PATH],
    ["USB id with serial", "046d:082d:ABCD1234"],
    ["USB id without serial", "046d:082d"],
  ])("finds the C920's capture node, not its metadata node, by %s", (_how, id) => {
    expect(resolveCaptureNode(parseSourceId(id), entries).node).toBe("/dev/video1");
  });

  it("picks the lowest index when capture is unknown (no v4l2-ctl)", () => {
    const unknown = entries.map(({ capture: _, ...rest }) => rest);
    expect(resolveCaptureNode(parseSourceId("046d:082d"), unknown).node).toBe("/dev/video1");
  });

  it("tells two identical dongles apart by port, and refuses their shared USB id", () => {
    const port2 = "/dev/v4l/by-path/platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.4:1.0-video-index0";
    expect(resolveCaptureNode(parseSourceId(port2), entries).node).toBe("/dev/video5");
    expect(codeOf(() => resolveCaptureNode(parseSourceId("534d:2109"), entries))).toBe(
      "SPOKE_DEVICE_AMBIGUOUS",
    );
  });

  it("reports a device that is not there, or whose nodes do not capture", () => {
    expect(codeOf(() => resolveCaptureNode(parseSourceId("046d:0825"), entries))).toBe(
      "SPOKE_DEVICE_NOT_FOUND",
    );
    expect(codeOf(() => resolveCaptureNode(parseSourceId("046d:082d:OTHER"), entries))).toBe(
      "SPOKE_DEVICE_NOT_FOUND",
    );
    const metadataOnly = entries.filter((e) => e.node !== "/dev/video1");
    expect(() => resolveCaptureNode(parseSourceId("046d:082d"), metadataOnly)).toThrow(/do not capture/);
    expect(codeOf(() => resolveCaptureNode(parseSourceId(C920_ID), []))).toBe("SPOKE_DEVICE_NOT_FOUND");
  });
});

describe("stable ids and grouping", () => {
  it("names a node by its index0 by-id link first, then by-path, then the USB id", () => {
    expect(stableIdOf(entries[2] as VideoNodeEntry)).toBe(C920_ID);
    expect(stableIdOf({ node: "/dev/video1", byId: [], byPath: [C920_PATH] })).toBe(C920_PATH);
    expect(stableIdOf({ node: "/dev/video1", byId: [], byPath: [], usb: c920Usb })).toBe(
      "046d:082d:ABCD1234",
    );
    expect(stableIdOf({ node: "/dev/video10", byId: [], byPath: [] })).toBeUndefined();
  });

  it("groups a device's nodes, capture node first", () => {
    const groups = groupByDevice(entries).map((g) => g.map((e) => e.node));
    expect(groups).toEqual([
      ["/dev/video1", "/dev/video2"],
      ["/dev/video3"],
      ["/dev/video5"],
      ["/dev/video10"],
    ]);
  });
});
