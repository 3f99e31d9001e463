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

/** What differs between encoders; `define` turns it into a definition. */
interface EncoderSpec {
  id: EncoderId;
  hardware: boolean;
  profile: H264Profile;
  maxWidth: number;
  scaler: string[];
  input: { format: string; feature?: string };
  /** The encoder element's properties for a start bitrate and keyframe interval. */
  properties(bitrateKbps: number, keyframeInterval: number): Record<string, string | number | boolean>;
  /** The property its bitrate is in while it runs, and the unit it counts in. */
  bitrateProperty: { name: string; unit: "kbit/s" | "bit/s" };
}

function define(spec: EncoderSpec): EncoderDefinition {
  const { name, unit } = spec.bitrateProperty;
  return {
    id: spec.id,
    element: spec.id,
    hardware: spec.hardware,
    profile: spec.profile,
    maxWidth: spec.maxWidth,
    scaler: () => spec.scaler.map((factory) => element(factory)),
    input: spec.input,
    encoder: ({ bitrateKbps, keyframeInterval, level }) => [
      element(spec.id, spec.properties(bitrateKbps, keyframeInterval), ENCODER_NAME),
      caps("video/x-h264", { profile: spec.profile, level, "stream-format": "byte-stream", alignment: "au" }),
    ],
    bitrate: (kbps) => [
      { element: ENCODER_NAME, property: name, value: unit === "kbit/s" ? kbps : kbps * 1000 },
    ],
  };
}

const SOFTWARE_SCALER = ["videoscale", "videoconvert"];
const KBPS = { name: "bitrate", unit: "kbit/s" } as const;
const BPS = { name: "bitrate", unit: "bit/s" } as const;

/** A GstStructure in its string form, as `extra-controls` takes it. */
function v4l2Controls(controls: Record<string, number>): string {
  return ["controls", ...Object.entries(controls).map(([key, value]) => `${key}=${value}`)].join(",");
}

/**
 * Raspberry Pi 4's V4L2 memory-to-memory encoder. It needs an explicit level in its caps (below 3 it
 * fails), takes bitrate, GOP and repeated SPS/PPS only through `extra-controls`, and is fed by
 * `v4l2convert`, the Pi's hardware scaler and converter.
 */
const v4l2h264: EncoderDefinition = {
  ...define({
    id: "v4l2h264enc",
    hardware: true,
    profile: "constrained-baseline",
    maxWidth: 1920,
    scaler: ["v4l2convert"],
    input: { format: "I420" },
    properties: (kbps, keyframeInterval) => ({
      "extra-controls": v4l2Controls({
        video_bitrate_mode: 1, // constant bitrate
        video_bitrate: kbps * 1000,
        h264_i_frame_period: keyframeInterval,
        repeat_sequence_header: 1,
      }),
    }),
    bitrateProperty: BPS,
  }),
  bitrate: (kbps) => [
    {
      element: ENCODER_NAME,
      property: "extra-controls",
      value: v4l2Controls({ video_bitrate: kbps * 1000 }),
    },
  ],
};

export const ENCODERS: Readonly<Record<EncoderId, EncoderDefinition>> = {
  v4l2h264enc: v4l2h264,
  // Intel and AMD through VA-API, GStreamer's newer `va` plugin. Recent Intel drivers offer no Baseline.
  vah264enc: define({
    id: "vah264enc",
    hardware: true,
    profile: "main",
    maxWidth: 4096,
    scaler: ["vapostproc"],
    input: { format: "NV12", feature: "memory:VAMemory" },
    properties: (kbps, gop) => ({ "rate-control": "cbr", bitrate: kbps, "key-int-max": gop, "b-frames": 0 }),
    bitrateProperty: KBPS,
  }),
  // Intel through the older `vaapi` plugin (older distributions).
  vaapih264enc: define({
    id: "vaapih264enc",
    hardware: true,
    profile: "constrained-baseline",
    maxWidth: 4096,
    scaler: ["vaapipostproc"],
    input: { format: "NV12", feature: "memory:VASurface" },
    properties: (kbps, gop) => ({
      "rate-control": "cbr",
      bitrate: kbps,
      "keyframe-period": gop,
      "max-bframes": 0,
    }),
    bitrateProperty: KBPS,
  }),
  // Intel Quick Sync through oneVPL/Media SDK.
  qsvh264enc: define({
    id: "qsvh264enc",
    hardware: true,
    profile: "main",
    maxWidth: 4096,
    scaler: SOFTWARE_SCALER,
    input: { format: "NV12" },
    properties: (kbps, gop) => ({
      "rate-control": "cbr",
      bitrate: kbps,
      "gop-size": gop,
      "b-frames": 0,
      "low-latency": true,
    }),
    bitrateProperty: KBPS,
  }),
  // NVIDIA desktop GPUs through NVENC.
  nvh264enc: define({
    id: "nvh264enc",
    hardware: true,
    profile: "constrained-baseline",
    maxWidth: 4096,
    scaler: ["cudaupload", "cudaconvert", "cudascale"],
    input: { format: "NV12", feature: "memory:CUDAMemory" },
    properties: (kbps, gop) => ({
      preset: "low-latency-hq",
      "rc-mode": "cbr",
      bitrate: kbps,
      "gop-size": gop,
      bframes: 0,
      zerolatency: true,
    }),
    bitrateProperty: KBPS,
  }),
  // NVIDIA Jetson's V4L2 encoder, fed NVMM buffers by `nvvidconv`.
  nvv4l2h264enc: define({
    id: "nvv4l2h264enc",
    hardware: true,
    profile: "constrained-baseline",
    maxWidth: 4096,
    scaler: ["nvvidconv"],
    input: { format: "I420", feature: "memory:NVMM" },
    properties: (kbps, gop) => ({
      bitrate: kbps * 1000,
      iframeinterval: gop,
      "insert-sps-pps": true,
      "maxperf-enable": true,
      profile: 0, // baseline
    }),
    bitrateProperty: BPS,
  }),
  // Without I420 in front (the software scaler's caps) x264 picks 4:4:4 and emits High 4:4:4.
  x264enc: define({
    id: "x264enc",
    hardware: false,
    profile: "constrained-baseline",
    maxWidth: 3840,
    scaler: SOFTWARE_SCALER,
    input: { format: "I420" },
    // `pass` stays at its default, cbr: x264's ABR with a VBV whose maxrate is the bitrate, the only
    // mode where `bitrate` (and its changes at run time) bounds the output; `qp-max` stays 51, since
    // a lower ceiling only lets noisy content overshoot sooner. The VBV buffer is 300 ms instead of
    // 600: on snow at 590 kbit/s (960×540, a keyframe every 3 to 60 frames) it kept the output at
    // 0.82–1.04× the target where 600 ms gave 0.96–1.12×, and it halves the largest burst one frame
    // can put into the bottleneck's queue (no latency lost: zerolatency has no lookahead to shorten).
    properties: (kbps, gop) => ({
      tune: "zerolatency",
      "speed-preset": "ultrafast",
      bitrate: kbps,
      "vbv-buf-capacity": 300,
      "key-int-max": gop,
      bframes: 0,
    }),
    bitrateProperty: KBPS,
  }),
  openh264enc: define({
    id: "openh264enc",
    hardware: false,
    profile: "constrained-baseline",
    maxWidth: 3840,
    scaler: SOFTWARE_SCALER,
    input: { format: "I420" },
    properties: (kbps, gop) => ({
      "rate-control": "bitrate",
      bitrate: kbps * 1000,
      "gop-size": gop,
      complexity: "low",
      "usage-type": "camera",
    }),
    bitrateProperty: BPS,
  }),
};

export function isEncoderId(value: string): value is EncoderId {
  return (ENCODER_IDS as readonly string[]).includes(value);
}
