import { describe, expect, it } from "vitest";
import { parseConfig } from "../../agent/config/validate.js";
import { buildFeedPipeline } from "../../pipelines/feed-pipeline.js";
import { configInput } from "../helpers/config.js";

function feedWith(feed: Record<string, unknown>) {
  const config = parseConfig(configInput({ feeds: [{ ...configInput().feeds[0], ...feed }] }), "test");
  const first = config.feeds[0];
  if (!first) throw new Error("no feed");
  return first;
}

describe("feed pipeline", () => {
  it("encodes a test picture to browser-safe H.264 RTP on the given loopback port", () => {
    const pipeline = buildFeedPipeline(
      feedWith({ width: 640, height: 360, framerate: 25, bitrateKbps: 800 }),
      5004,
    );
    const elements = pipeline.launch.split(" ! ");
    expect(elements[0]).toBe("videotestsrc is-live=true pattern=smpte");
    expect(elements).toContain("video/x-raw,width=640,height=360,framerate=25/1");
    // I420 right before the encoder, or x264 emits High 4:4:4.
    expect(elements.indexOf("video/x-raw,format=I420")).toBe(
      elements.findIndex((e) => e.startsWith("x264enc")) - 1,
    );
    expect(elements.find((e) => e.startsWith("x264enc"))).toBe(
      "x264enc name=enc tune=zerolatency speed-preset=ultrafast bitrate=800 key-int-max=50 bframes=0",
    );
    expect(elements).toContain(
      "video/x-h264,profile=constrained-baseline,level=(string)3.1,stream-format=byte-stream",
    );
    expect(elements.at(-2)).toBe("rtph264pay name=pay pt=96 mtu=1200 config-interval=-1 aggregate-mode=none");
    expect(elements.at(-1)).toBe("udpsink host=127.0.0.1 port=5004 sync=false async=false");
    expect(pipeline.sourceDevice).toBeUndefined();
  });

  it("captures from a V4L2 device, names it for the pre-start check, and adds no clock overlay", () => {
    const pipeline = buildFeedPipeline(feedWith({ source: { type: "v4l2", device: "/dev/video2" } }), 6000);
    expect(pipeline.launch.startsWith("v4l2src device=/dev/video2 ! ")).toBe(true);
    expect(pipeline.sourceDevice).toBe("/dev/video2");
    expect(pipeline.launch).not.toContain("clockoverlay");
  });

  it("derives the keyframe interval in frames from seconds and frame rate", () => {
    const launch = buildFeedPipeline(feedWith({ framerate: 30, keyframeIntervalSeconds: 1 }), 1).launch;
    expect(launch).toContain("key-int-max=30 ");
  });

  it("never writes to a file: the only sink is the loopback UDP sink", () => {
    const launch = buildFeedPipeline(feedWith({}), 1).launch;
    expect(launch.match(/\w+sink/g)).toEqual(["udpsink"]);
  });
});
