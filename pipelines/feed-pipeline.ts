import type { AudioConfig } from "../agent/config/schema.js";
import {
  type Chain,
  caps,
  capsString,
  element,
  frameRate,
  type PipelineDescription,
  type PipelineNode,
} from "./description.js";
import { ENCODERS, type EncoderId } from "./encoders.js";
import { h264Level } from "./h264-level.js";
import { toLaunch } from "./launch.js";

export { ENCODER_NAME } from "./encoders.js";

/** Element names the worker addresses at run time. */
export const PAYLOADER_NAME = "pay";
/** The capsfilter that fixes the encoded size and frame rate: a degradation step changes its caps. */
export const MODE_NAME = "mode";
/** The frame-rate stage, whose counters give frames in, out and dropped. */
export const RATE_NAME = "rate";
/** The audio level meter whose bus messages say whether sound flows. */
export const LEVEL_NAME = "level";
/** The microphone: its errors (unplugged, busy) cost the sound, never the picture. */
export const MIC_NAME = "mic";

/** RTP payload types the worker stamps; the WebRTC sender rewrites them to the negotiated ones. */
export const H264_PAYLOAD_TYPE = 96;
export const OPUS_PAYLOAD_TYPE = 111;

export interface PipelineMode {
  width: number;
  height: number;
  framerate: number;
}

/** How the chosen capture mode is taken off the device. */
export interface CaptureMode extends PipelineMode {
  format: "raw" | "mjpeg";
  /** For raw capture: GStreamer's format name (`YUY2`, `NV12`…). */
  rawFormat?: string;
}

export type JpegDecoder = "jpegdec" | "v4l2jpegdec" | "vajpegdec" | "nvjpegdec";

export type VideoSourcePlan =
  | { type: "test"; pattern: "smpte" | "ball" | "snow" }
  /** `device` is the resolved device node the worker opens. */
  | { type: "v4l2"; device: string; capture: CaptureMode; jpegDecoder: JpegDecoder }
  | { type: "libcamera"; camera?: string };

/** Everything one feed's worker pipeline is built from: the config resolved against this box. */
export interface FeedPlan {
  feedId: string;
  source: VideoSourcePlan;
  encoder: EncoderId;
  /** The feed's full mode: the H.264 level is pinned for it, so every lower step fits the same SDP. */
  fullMode: PipelineMode;
  /** The mode the encoder sends now (a degradation step may be below the full one). */
  mode: PipelineMode;
  bitrateKbps: number;
  maxBitrateKbps: number;
  keyframeIntervalSeconds: number;
  audio?: AudioConfig;
}

export interface FeedPorts {
  video: number;
  audio?: number;
}

export interface FeedPipeline {
  description: PipelineDescription;
  /** gst-launch syntax, as `gstreamer-superficial`'s Pipeline takes it. */
  launch: string;
  /** A device the source opens, checked before starting (GStreamer hides a missing device). */
  sourceDevice?: string;
}

/**
 * Builds the capture → H.264 → RTP → loopback UDP pipeline for one feed, and its audio beside it when the
 * feed has a microphone. Pure: the same plan always gives the same pipeline. The description is checked
 * against the element allowlist and every value is quoted on the way to gst-launch syntax, so neither a
 * device name nor any other value can add an element.
 */
export function buildFeedPipeline(plan: FeedPlan, ports: FeedPorts): FeedPipeline {
  const chains: Chain[] = [videoChain(plan, ports.video)];
  if (plan.audio && ports.audio !== undefined) chains.push(audioChain(plan.audio, ports.audio));
  const description: PipelineDescription = { chains };
  const launch = toLaunch(description);
  return plan.source.type === "v4l2"
    ? { description, launch, sourceDevice: plan.source.device }
    : { description, launch };
}

export function videoChain(plan: FeedPlan, port: number): Chain {
  const encoder = ENCODERS[plan.encoder];
  const level = h264Level({ ...plan.fullMode, bitrateKbps: plan.maxBitrateKbps }, encoder.profile);
  return [
    ...sourceNodes(plan.source, plan.fullMode),
    // Frame rate first, in system memory, where dropping a frame costs nothing.
    element("videorate", { "drop-only": true }, RATE_NAME),
    ...encoder.scaler(),
    element("capsfilter", { caps: modeCaps(plan.encoder, plan.mode) }, MODE_NAME),
    ...encoder.encoder({
      bitrateKbps: plan.bitrateKbps,
      keyframeInterval: Math.max(1, Math.round(plan.keyframeIntervalSeconds * plan.fullMode.framerate)),
      level: level.name,
    }),
    // aggregate-mode=none: with zero-latency aggregation, a forced keyframe makes the payloader send
    // SPS/PPS as a marker-terminated access unit with no picture; Chromium answers each such unit with
    // another keyframe request (PLI), a loop that turns every frame into a keyframe.
    element(
      "rtph264pay",
      { pt: H264_PAYLOAD_TYPE, mtu: 1200, "config-interval": -1, "aggregate-mode": "none" },
      PAYLOADER_NAME,
    ),
    loopbackSink(port),
  ];
}

/** The caps of the mode capsfilter: the encoder's input format at the feed's current size and rate. */
export function modeCaps(encoderId: EncoderId, mode: PipelineMode): string {
  const { format, feature } = ENCODERS[encoderId].input;
  return capsString(
    caps(
      "video/x-raw",
      { format, width: mode.width, height: mode.height, framerate: frameRate(mode.framerate) },
      feature,
    ),
  );
}

function sourceNodes(source: VideoSourcePlan, full: PipelineMode): PipelineNode[] {
  switch (source.type) {
    case "test":
      return [
        element("videotestsrc", { "is-live": true, pattern: source.pattern }),
        caps("video/x-raw", { width: full.width, height: full.height, framerate: frameRate(full.framerate) }),
        // The wall clock on the test picture makes motion and latency visible in the demo.
        element("clockoverlay", {
          halignment: "right",
          valignment: "bottom",
          "time-format": "%H:%M:%S",
          "font-desc": "Sans 24",
        }),
      ];
    case "v4l2":
      return v4l2Nodes(source.device, source.capture, source.jpegDecoder);
    case "libcamera":
      return [
        element("libcamerasrc", { "camera-name": source.camera }),
        caps("video/x-raw", {
          format: "NV12",
          width: full.width,
          height: full.height,
          framerate: frameRate(full.framerate),
        }),
      ];
  }
}

/** The capture format chosen from what the device advertises, asked for explicitly. */
function v4l2Nodes(device: string, capture: CaptureMode, decoder: JpegDecoder): PipelineNode[] {
  const size = { width: capture.width, height: capture.height, framerate: frameRate(capture.framerate) };
  const source = element("v4l2src", { device, "io-mode": "mmap" });
  if (capture.format === "mjpeg") {
    return [source, caps("image/jpeg", size), element("jpegparse"), element(decoder)];
  }
  return [source, caps("video/x-raw", { format: capture.rawFormat ?? "YUY2", ...size })];
}

/** Microphone → Opus → RTP, with a level meter so health can say whether sound flows. */
export function audioChain(audio: AudioConfig, port: number): Chain {
  return [
    audioSource(audio.source),
    element("audioconvert"),
    element("audioresample"),
    caps("audio/x-raw", { rate: 48000, channels: 1 }),
    element("level", { interval: 1_000_000_000, "post-messages": true }, LEVEL_NAME),
    element("opusenc", { bitrate: audio.bitrateKbps * 1000, "audio-type": "voice", "frame-size": 20 }),
    element("rtpopuspay", { pt: OPUS_PAYLOAD_TYPE }),
    loopbackSink(port),
  ];
}

function audioSource(source: AudioConfig["source"]): PipelineNode {
  switch (source.type) {
    case "test":
      return element(
        "audiotestsrc",
        { "is-live": true, wave: "sine", freq: source.frequencyHz, volume: 0.2 },
        MIC_NAME,
      );
    case "alsa":
      return element("alsasrc", { device: source.device }, MIC_NAME);
    case "pulse":
      return element("pulsesrc", { device: source.device }, MIC_NAME);
  }
}

function loopbackSink(port: number): PipelineNode {
  return element("udpsink", { host: "127.0.0.1", port, sync: false, async: false });
}

/** Frames a probe encodes: enough for the encoder to start and send its parameter sets and a keyframe. */
export const PROBE_FRAMES = 15;

/**
 * The encoder probe's pipeline: a few frames of a small test picture through exactly the scaler, caps
 * and encoder a feed would use, out as RTP to the agent, which reads the stream back.
 */
const PROBE_MODE = { width: 640, height: 360, framerate: 30 };
const PROBE_KBPS = 500;
/** The level the probe pins, and checks the stream against. */
export const PROBE_LEVEL = h264Level({ ...PROBE_MODE, bitrateKbps: PROBE_KBPS });

export function buildProbePipeline(encoderId: EncoderId, port: number): FeedPipeline {
  const encoder = ENCODERS[encoderId];
  const mode = PROBE_MODE;
  const chain: Chain = [
    element("videotestsrc", { "num-buffers": PROBE_FRAMES, pattern: "ball" }),
    caps("video/x-raw", { width: mode.width, height: mode.height, framerate: frameRate(mode.framerate) }),
    ...encoder.scaler(),
    element("capsfilter", { caps: modeCaps(encoderId, mode) }, MODE_NAME),
    ...encoder.encoder({ bitrateKbps: PROBE_KBPS, keyframeInterval: 30, level: PROBE_LEVEL.name }),
    element("rtph264pay", { pt: H264_PAYLOAD_TYPE, mtu: 1200, "config-interval": -1 }, PAYLOADER_NAME),
    loopbackSink(port),
  ];
  const description: PipelineDescription = { chains: [chain] };
  return { description, launch: toLaunch(description) };
}
