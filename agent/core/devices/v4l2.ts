/**
 * Parsers for what `v4l2-ctl` (v4l-utils) prints: `--list-formats-ext`, `--list-devices` and `--info`.
 * Pure: they take the command's text, so they are tested on recorded output of real devices.
 * Both layouts of `--list-formats-ext` are read: `[0]: 'YUYV' (YUYV 4:2:2)` (v4l-utils 1.14 and later)
 * and the older `Index : 0` / `Pixel Format: 'YUYV'` / `Name : …` blocks.
 */

/** How a pixel format can enter a pipeline: raw pixels, JPEG frames, or neither for now. */
export type FormatKind = "raw" | "mjpeg" | "h264" | "bayer" | "other";

/** A frame rate a size is offered at: one value, or a range (stepwise or continuous intervals). */
export type FrameRates =
  | { type: "discrete"; fps: number[] }
  | { type: "range"; minFps: number; maxFps: number };

export type FrameSize =
  | { type: "discrete"; width: number; height: number; rates: FrameRates }
  | {
      type: "stepwise";
      minWidth: number;
      maxWidth: number;
      stepWidth: number;
      minHeight: number;
      maxHeight: number;
      stepHeight: number;
      rates: FrameRates;
    };

export interface VideoFormat {
  /** The V4L2 fourcc as the device names it, e.g. `YUYV`, `MJPG`, `NV12`. */
  fourcc: string;
  description: string;
  kind: FormatKind;
  /** The GStreamer `video/x-raw` format for a raw fourcc (`YUYV` → `YUY2`); absent otherwise. */
  gstFormat?: string;
  sizes: FrameSize[];
}

/** V4L2 fourcc → GStreamer raw format, for the raw formats capture devices commonly offer. */
const RAW_FORMATS: Readonly<Record<string, string>> = {
  YUYV: "YUY2",
  UYVY: "UYVY",
  YVYU: "YVYU",
  NV12: "NV12",
  NV21: "NV21",
  NV16: "NV16",
  YU12: "I420",
  YV12: "YV12",
  "422P": "Y42B",
  GREY: "GRAY8",
  RGB3: "RGB",
  BGR3: "BGR",
  RGBP: "RGB16",
  XR24: "BGRx",
  AR24: "BGRA",
};

const MJPEG_FORMATS = new Set(["MJPG", "JPEG"]);
const H264_FORMATS = new Set(["H264"]);
/** Bayer fourccs: 8-bit `BA81`/`GBRG`/`RGGB`…, 10/12-bit `RG10`/`pRAA`/`BG12`… (need an ISP, not v4l2src). */
const BAYER = /^(BA81|GBRG|GRBG|RGGB|(BA|BG|GB|RG)1[0246]|p[BGgR](AA|CC|EE))$/;

export function classifyFourcc(fourcc: string): { kind: FormatKind; gstFormat?: string } {
  const gstFormat = RAW_FORMATS[fourcc];
  if (gstFormat) return { kind: "raw", gstFormat };
  if (MJPEG_FORMATS.has(fourcc)) return { kind: "mjpeg" };
  if (H264_FORMATS.has(fourcc)) return { kind: "h264" };
  if (BAYER.test(fourcc)) return { kind: "bayer" };
  return { kind: "other" };
}

function format(fourcc: string, description: string): VideoFormat {
  return { fourcc, description, ...classifyFourcc(fourcc), sizes: [] };
}

const NEW_FORMAT = /^\s*\[\d+\]:\s*'([^']*)'\s*\((.*)\)\s*$/;
const OLD_PIXEL_FORMAT = /^\s*Pixel Format\s*:\s*'([^']*)'/;
const OLD_NAME = /^\s*Name\s*:\s*(.*?)\s*$/;
const TYPE = /^\s*Type\s*:\s*(.*?)\s*$/;
const DISCRETE_SIZE = /^\s*Size:\s*Discrete\s+(\d+)x(\d+)/;
const STEPWISE_SIZE =
  /^\s*Size:\s*(Stepwise|Continuous)\s+(\d+)x(\d+)\s*-\s*(\d+)x(\d+)(?:\s+with step\s+(\d+)\/(\d+))?/;
const DISCRETE_INTERVAL = /^\s*Interval:\s*Discrete\s+[\d.]+s\s*\(([\d.]+) fps\)/;
const RANGE_INTERVAL = /^\s*Interval:\s*(?:Stepwise|Continuous)\s.*\(([\d.]+)-([\d.]+) fps\)/;

/** Rounds `29.970` to 29.97 and `7.500` to 7.5: the three decimals v4l2-ctl prints, as a number. */
const fpsOf = (text: string) => Math.round(Number(text) * 1000) / 1000;
const noRates = (): FrameRates => ({ type: "discrete", fps: [] });

/**
 * The capture formats in `v4l2-ctl -d <node> --list-formats-ext` output: only those of type
 * `Video Capture` (or its multiplanar form), in the device's order, each with its sizes and rates.
 */
export function parseListFormatsExt(text: string): VideoFormat[] {
  const formats: VideoFormat[] = [];
  let type = "Video Capture";
  let current: VideoFormat | undefined;
  let size: FrameSize | undefined;
  let pendingFourcc: string | undefined;
  const isCapture = () => /^Video Capture( Multiplanar)?$/.test(type);

  const addRate = (rate: FrameRates) => {
    if (!size) return;
    if (rate.type === "range" || size.rates.type === "range") size.rates = rate;
    else size.rates.fps.push(...rate.fps);
  };
  const start = (fourcc: string, description: string) => {
    current = format(fourcc, description);
    size = undefined;
    if (isCapture()) formats.push(current);
  };

  const sizeFrom = (match: RegExpMatchArray): FrameSize => {
    if (match[1] === undefined || !/^(Stepwise|Continuous)$/.test(match[1]))
      return { type: "discrete", width: Number(match[1]), height: Number(match[2]), rates: noRates() };
    const continuous = match[1] === "Continuous";
    return {
      type: "stepwise",
      minWidth: Number(match[2]),
      minHeight: Number(match[3]),
      maxWidth: Number(match[4]),
      maxHeight: Number(match[5]),
      stepWidth: continuous ? 1 : Number(match[6] ?? 1),
      stepHeight: continuous ? 1 : Number(match[7] ?? 1),
      rates: noRates(),
    };
  };
  const addSize = (match: RegExpMatchArray) => {
    size = sizeFrom(match);
    current?.sizes.push(size);
  };
  /** The first rule whose pattern matches a line handles it. */
  const rules: [RegExp, (match: RegExpMatchArray) => void][] = [
    [TYPE, (m) => (type = m[1] ?? "")],
    [NEW_FORMAT, (m) => start(m[1] ?? "", m[2] ?? "")],
    [
      OLD_PIXEL_FORMAT,
      (m) => {
        pendingFourcc = m[1] ?? "";
        current = undefined;
      },
    ],
    [
      OLD_NAME,
      (m) => {
        if (pendingFourcc !== undefined) start(pendingFourcc, m[1] ?? "");
        pendingFourcc = undefined;
      },
    ],
    [DISCRETE_SIZE, addSize],
    [STEPWISE_SIZE, addSize],
    [DISCRETE_INTERVAL, (m) => addRate({ type: "discrete", fps: [fpsOf(m[1] ?? "0")] })],
    [
      RANGE_INTERVAL,
      (m) => addRate({ type: "range", minFps: fpsOf(m[1] ?? "0"), maxFps: fpsOf(m[2] ?? "0") }),
    ],
  ];
  for (const line of text.split("\n")) {
    for (const [pattern, handle] of rules) {
      const match = line.match(pattern);
      if (!match) continue;
      handle(match);
      break;
    }
  }
  return formats;
}

/** One physical device in `v4l2-ctl --list-devices`: its name, bus and the nodes it owns. */
export interface ListedDevice {
  name: string;
  /** `usb-0000:01:00.0-1.2`, `platform:bcm2835-codec`, … */
  bus: string;
  /** Its `/dev/videoN` nodes, in the order listed (the first is the main capture node for UVC). */
  videoNodes: string[];
  mediaNodes: string[];
}

/**
 * `v4l2-ctl --list-devices`: a header per device, `Name (bus):` (the name itself may hold a colon and
 * parentheses, as `USB Video: USB Video (usb-…):` does), then its nodes indented.
 */
export function parseListDevices(text: string): ListedDevice[] {
  const devices: ListedDevice[] = [];
  let current: ListedDevice | undefined;
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    if (/^\s/.test(line)) {
      const node = line.trim();
      if (!current) continue;
      if (/^\/dev\/video\d+$/.test(node)) current.videoNodes.push(node);
      else if (/^\/dev\/media\d+$/.test(node)) current.mediaNodes.push(node);
      continue;
    }
    const header = line.match(/^(.*)\s\(([^()]*)\):\s*$/);
    current = {
      name: (header?.[1] ?? line.replace(/:\s*$/, "")).trim(),
      bus: header?.[2] ?? "",
      videoNodes: [],
      mediaNodes: [],
    };
    devices.push(current);
  }
  return devices;
}

export interface DeviceInfo {
  driver: string;
  card: string;
  bus: string;
  /** The node's own capabilities (`Device Caps`), e.g. `Video Capture`, `Metadata Capture`. */
  deviceCaps: string[];
  /** A node that captures video from outside: not metadata-only, not a memory-to-memory codec or ISP. */
  capture: boolean;
}

/** `v4l2-ctl -d <node> --info` (`-D`): driver, card, bus and the node's capabilities. */
export function parseDeviceInfo(text: string): DeviceInfo {
  const field = (name: string) => text.match(new RegExp(`^\\s*${name}\\s*:\\s*(.*?)\\s*$`, "m"))?.[1] ?? "";
  const deviceCaps: string[] = [];
  const lines = text.split("\n");
  const start = lines.findIndex((line) => /^\s*Device Caps\s*:/.test(line));
  if (start >= 0) {
    const indent = (line: string) => line.length - line.trimStart().length;
    const own = indent(lines[start] ?? "");
    for (const line of lines.slice(start + 1)) {
      if (line.trim() === "" || indent(line) <= own || line.includes(":")) break;
      deviceCaps.push(line.trim());
    }
  }
  const capture =
    deviceCaps.some((cap) => /^Video Capture( Multiplanar)?$/.test(cap)) &&
    !deviceCaps.some((cap) => cap.includes("Memory-to-Memory"));
  return {
    driver: field("Driver name"),
    card: field("Card type"),
    bus: field("Bus info"),
    deviceCaps,
    capture,
  };
}
