import type { FeedConfig, FeedSourceConfig } from "../agent/config/schema.js";
import { h264Level } from "./h264-level.js";

/** Element names the worker addresses at run time (bitrate changes, keyframe requests). */
export const ENCODER_NAME = "enc";
export const PAYLOADER_NAME = "pay";

/** RTP payload type the worker stamps; the WebRTC sender rewrites it to the negotiated one. */
export const H264_PAYLOAD_TYPE = 96;

export interface FeedPipeline {
  /** gst-launch syntax, as `gstreamer-superficial`'s Pipeline takes it. */
  launch: string;
  /** A device the source opens, checked before starting (GStreamer hides a missing device). */
  sourceDevice?: string;
}

/**
 * Builds the capture → H.264 → RTP → loopback UDP pipeline for one feed. Pure: the same config always
 * gives the same pipeline. Values come from the validated config (numbers, enums and a device path
 * restricted to safe characters), so nothing here can inject another element.
 */
export function buildFeedPipeline(feed: FeedConfig, rtpPort: number): FeedPipeline {
  const elements = [
    ...sourceElements(feed.source),
    "videoconvert",
    "videoscale",
    "videorate",
    `video/x-raw,width=${feed.width},height=${feed.height},framerate=${feed.framerate}/1`,
    ...overlayElements(feed.source),
    // Without I420 before x264enc it picks 4:4:4 and emits High 4:4:4, which browsers refuse.
    "videoconvert",
    "video/x-raw,format=I420",
    ...encoderElements(feed),
    // aggregate-mode=none: with zero-latency aggregation, a forced keyframe makes the payloader send
    // SPS/PPS as a marker-terminated access unit with no picture; Chromium answers each such unit with
    // another keyframe request (PLI), a loop that turns every frame into a keyframe.
    `rtph264pay name=${PAYLOADER_NAME} pt=${H264_PAYLOAD_TYPE} mtu=1200 config-interval=-1 aggregate-mode=none`,
    `udpsink host=127.0.0.1 port=${rtpPort} sync=false async=false`,
  ];
  const device = feed.source.type === "v4l2" ? feed.source.device : undefined;
  return device === undefined
    ? { launch: elements.join(" ! ") }
    : { launch: elements.join(" ! "), sourceDevice: device };
}

function sourceElements(source: FeedSourceConfig): string[] {
  switch (source.type) {
    case "test":
      return [`videotestsrc is-live=true pattern=${source.pattern}`];
    case "v4l2":
      return [`v4l2src device=${source.device}`];
  }
}

function overlayElements(source: FeedSourceConfig): string[] {
  // The wall clock on the test picture makes motion and latency visible in the demo.
  return source.type === "test"
    ? ['clockoverlay halignment=right valignment=bottom time-format="%H:%M:%S" font-desc="Sans 24"']
    : [];
}

/** Software H.264 for now; hardware encoders are chosen by probing in a later step. */
function encoderElements(feed: FeedConfig): string[] {
  const keyframeInterval = Math.max(1, Math.round(feed.keyframeIntervalSeconds * feed.framerate));
  return [
    `x264enc name=${ENCODER_NAME} tune=zerolatency speed-preset=ultrafast bitrate=${feed.bitrateKbps} key-int-max=${keyframeInterval} bframes=0`,
    // The level pinned to what the SDP announces (see h264-level.ts).
    `video/x-h264,profile=constrained-baseline,level=(string)${h264Level(feed).name},stream-format=byte-stream`,
  ];
}
