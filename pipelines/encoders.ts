import { caps, element, type PipelineNode } from "./description.js";

/**
 * The H.264 encoders Spoke knows, as data: which element, whether it is hardware, what it needs in front
 * of it, and how its bitrate is changed while it runs. The probe proves which of them work on a box;
 * `chooseEncoder` (agent/core/encoder-choice.ts) picks one per platform from that.
 */

export const ENCODER_IDS = [
  "v4l2h264enc",
  "vah264enc",
  "vaapih264enc",
  "qsvh264enc",
  "nvh264enc",
  "nvv4l2h264enc",
  "x264enc",
  "openh264enc",
] as const;

export type EncoderId = (typeof ENCODER_IDS)[number];

/** Profiles a browser decodes. None of them with B-frames: they add a frame of delay and confuse some hubs. */
export type H264Profile = "constrained-baseline" | "main" | "high";

/** The element name the worker addresses at run time (bitrate, extra controls). */
export const ENCODER_NAME = "enc";

export interface EncodeParameters {
  bitrateKbps: number;
  /** Frames between keyframes. */
  keyframeInterval: number;
  /** H.264 level as GStreamer names it (`3.1`, `4`…), pinned in the caps and announced in the SDP. */
  level: string;
}

/** A property to set on a running element; strings go through GStreamer's own parser. */
export interface PropertyChange {
  element: string;
  property: string;
  value: string | number;
}

export interface EncoderDefinition {
  id: EncoderId;
  /** The element whose presence the probe checks first. */
  element: EncoderId;
  hardware: boolean;
  profile: H264Profile;
  /** Widest picture it encodes (the Pi 4's block stops at 1920). */
  maxWidth: number;
  /**
   * What scales and converts raw frames into what the encoder takes, on the platform's own hardware
   * where it has a scaler: the feed's mode (size, frame rate) is fixed right after it.
   */
  scaler(): PipelineNode[];
  /** The raw format (and caps feature) the encoder takes from the scaler. */
  input: { format: string; feature?: string };
  encoder(parameters: EncodeParameters): PipelineNode[];
  /** How to change the target bitrate while it runs. */
  bitrate(kbps: number): PropertyChange[];
}

const h264Caps = (profile: H264Profile, level: string) =>
  caps("video/x-h264", { profile, level, "stream-format": "byte-stream", alignment: "au" });

const x264: EncoderDefinition = {
  id: "x264enc",
  element: "x264enc",
  hardware: false,
  profile: "constrained-baseline",
  maxWidth: 3840,
  scaler: () => [element("videoscale"), element("videoconvert")],
  input: { format: "I420" },
  encoder: ({ bitrateKbps, keyframeInterval, level }) => [
    element(
      "x264enc",
      {
        tune: "zerolatency",
        "speed-preset": "ultrafast",
        bitrate: bitrateKbps,
        "key-int-max": keyframeInterval,
        bframes: 0,
      },
      ENCODER_NAME,
    ),
    h264Caps("constrained-baseline", level),
  ],
  bitrate: (kbps) => [{ element: ENCODER_NAME, property: "bitrate", value: kbps }],
};

const openh264: EncoderDefinition = {
  id: "openh264enc",
  element: "openh264enc",
  hardware: false,
  profile: "constrained-baseline",
  maxWidth: 3840,
  scaler: () => [element("videoscale"), element("videoconvert")],
  input: { format: "I420" },
  encoder: ({ bitrateKbps, keyframeInterval, level }) => [
    element(
      "openh264enc",
      {
        "rate-control": "bitrate",
        bitrate: bitrateKbps * 1000,
        "gop-size": keyframeInterval,
        complexity: "low",
        "usage-type": "camera",
      },
      ENCODER_NAME,
    ),
    h264Caps("constrained-baseline", level),
  ],
  bitrate: (kbps) => [{ element: ENCODER_NAME, property: "bitrate", value: kbps * 1000 }],
};

/**
 * Raspberry Pi 4's V4L2 memory-to-memory encoder. It needs an explicit level in its caps (below 3 it
 * fails), takes bitrate, GOP and repeated SPS/PPS only through `extra-controls`, and is fed by
 * `v4l2convert`, the Pi's hardware scaler and converter.
 */
const v4l2h264: EncoderDefinition = {
  id: "v4l2h264enc",
  element: "v4l2h264enc",
  hardware: true,
  profile: "constrained-baseline",
  maxWidth: 1920,
  scaler: () => [element("v4l2convert")],
  input: { format: "I420" },
  encoder: ({ bitrateKbps, keyframeInterval, level }) => [
    element(
      "v4l2h264enc",
      {
        "extra-controls": v4l2Controls({
          video_bitrate_mode: 1, // constant bitrate
          video_bitrate: bitrateKbps * 1000,
          h264_i_frame_period: keyframeInterval,
          repeat_sequence_header: 1,
        }),
      },
      ENCODER_NAME,
    ),
    h264Caps("constrained-baseline", level),
  ],
  bitrate: (kbps) => [
    {
      element: ENCODER_NAME,
      property: "extra-controls",
      value: v4l2Controls({ video_bitrate: kbps * 1000 }),
    },
  ],
};

/** A GstStructure in its string form, as `extra-controls` takes it. */
function v4l2Controls(controls: Record<string, number>): string {
  return ["controls", ...Object.entries(controls).map(([key, value]) => `${key}=${value}`)].join(",");
}

/** Intel and AMD through VA-API, GStreamer's newer `va` plugin. Recent Intel drivers offer no baseline. */
const vah264: EncoderDefinition = {
  id: "vah264enc",
  element: "vah264enc",
  hardware: true,
  profile: "main",
  maxWidth: 4096,
  scaler: () => [element("vapostproc")],
  input: { format: "NV12", feature: "memory:VAMemory" },
  encoder: ({ bitrateKbps, keyframeInterval, level }) => [
    element(
      "vah264enc",
      { "rate-control": "cbr", bitrate: bitrateKbps, "key-int-max": keyframeInterval, "b-frames": 0 },
      ENCODER_NAME,
    ),
    h264Caps("main", level),
  ],
  bitrate: (kbps) => [{ element: ENCODER_NAME, property: "bitrate", value: kbps }],
};

/** Intel through the older `vaapi` plugin (GStreamer before the `va` plugin, older distributions). */
const vaapih264: EncoderDefinition = {
  id: "vaapih264enc",
  element: "vaapih264enc",
  hardware: true,
  profile: "constrained-baseline",
  maxWidth: 4096,
  scaler: () => [element("vaapipostproc")],
  input: { format: "NV12", feature: "memory:VASurface" },
  encoder: ({ bitrateKbps, keyframeInterval, level }) => [
    element(
      "vaapih264enc",
      { "rate-control": "cbr", bitrate: bitrateKbps, "keyframe-period": keyframeInterval, "max-bframes": 0 },
      ENCODER_NAME,
    ),
    h264Caps("constrained-baseline", level),
  ],
  bitrate: (kbps) => [{ element: ENCODER_NAME, property: "bitrate", value: kbps }],
};

/** Intel Quick Sync through oneVPL/Media SDK. */
const qsvh264: EncoderDefinition = {
  id: "qsvh264enc",
  element: "qsvh264enc",
  hardware: true,
  profile: "main",
  maxWidth: 4096,
  scaler: () => [element("videoscale"), element("videoconvert")],
  input: { format: "NV12" },
  encoder: ({ bitrateKbps, keyframeInterval, level }) => [
    element(
      "qsvh264enc",
      {
        "rate-control": "cbr",
        bitrate: bitrateKbps,
        "gop-size": keyframeInterval,
        "b-frames": 0,
        "low-latency": true,
      },
      ENCODER_NAME,
    ),
    h264Caps("main", level),
  ],
  bitrate: (kbps) => [{ element: ENCODER_NAME, property: "bitrate", value: kbps }],
};

/** NVIDIA desktop GPUs through NVENC. */
const nvh264: EncoderDefinition = {
  id: "nvh264enc",
  element: "nvh264enc",
  hardware: true,
  profile: "constrained-baseline",
  maxWidth: 4096,
  scaler: () => [element("cudaupload"), element("cudaconvert"), element("cudascale")],
  input: { format: "NV12", feature: "memory:CUDAMemory" },
  encoder: ({ bitrateKbps, keyframeInterval, level }) => [
    element(
      "nvh264enc",
      {
        preset: "low-latency-hq",
        "rc-mode": "cbr",
        bitrate: bitrateKbps,
        "gop-size": keyframeInterval,
        bframes: 0,
        zerolatency: true,
      },
      ENCODER_NAME,
    ),
    h264Caps("constrained-baseline", level),
  ],
  bitrate: (kbps) => [{ element: ENCODER_NAME, property: "bitrate", value: kbps }],
};

/** NVIDIA Jetson's V4L2 encoder, fed NVMM buffers by `nvvidconv`. */
const nvv4l2h264: EncoderDefinition = {
  id: "nvv4l2h264enc",
  element: "nvv4l2h264enc",
  hardware: true,
  profile: "constrained-baseline",
  maxWidth: 4096,
  scaler: () => [element("nvvidconv")],
  input: { format: "I420", feature: "memory:NVMM" },
  encoder: ({ bitrateKbps, keyframeInterval, level }) => [
    element(
      "nvv4l2h264enc",
      {
        bitrate: bitrateKbps * 1000,
        iframeinterval: keyframeInterval,
        "insert-sps-pps": true,
        "maxperf-enable": true,
        profile: 0, // baseline
      },
      ENCODER_NAME,
    ),
    h264Caps("constrained-baseline", level),
  ],
  bitrate: (kbps) => [{ element: ENCODER_NAME, property: "bitrate", value: kbps * 1000 }],
};

export const ENCODERS: Readonly<Record<EncoderId, EncoderDefinition>> = {
  v4l2h264enc: v4l2h264,
  vah264enc: vah264,
  vaapih264enc: vaapih264,
  qsvh264enc: qsvh264,
  nvh264enc: nvh264,
  nvv4l2h264enc: nvv4l2h264,
  x264enc: x264,
  openh264enc: openh264,
};

export function isEncoderId(value: string): value is EncoderId {
  return (ENCODER_IDS as readonly string[]).includes(value);
}
