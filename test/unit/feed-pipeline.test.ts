import { describe, expect, it } from "vitest";
import { parseConfig } from "../../agent/config/validate.js";
import { element } from "../../pipelines/description.js";
import { ENCODER_IDS, type EncoderId } from "../../pipelines/encoders.js";
import {
  buildFeedPipeline,
  buildProbePipeline,
  type FeedPlan,
  type VideoSourcePlan,
} from "../../pipelines/feed-pipeline.js";
import { ALLOWED_ELEMENTS, launchValue, PipelineRejected, toLaunch } from "../../pipelines/launch.js";
import { configInput } from "../helpers/config.js";

const HD = { width: 1280, height: 720, framerate: 30 };
const FULL_HD = { width: 1920, height: 1080, framerate: 30 };
const MJPEG_CAMERA: VideoSourcePlan = {
  type: "v4l2",
  device: "/dev/v4l/by-id/usb-046d_HD_Pro_Webcam_C920_ABCD1234-video-index0",
  capture: { format: "mjpeg", ...FULL_HD },
  jpegDecoder: "v4l2jpegdec",
};

function plan(overrides: Partial<FeedPlan> = {}): FeedPlan {
  return {
    feedId: "room-camera",
    source: { type: "test", pattern: "smpte" },
    encoder: "x264enc",
    fullMode: HD,
    mode: HD,
    bitrateKbps: 1500,
    maxBitrateKbps: 4000,
    keyframeIntervalSeconds: 2,
    ...overrides,
  };
}

/** The video chain element by element, as gst-launch sees it. */
const elements = (feedPlan: FeedPlan) => buildFeedPipeline(feedPlan, { video: 5004 }).launch.split(" ! ");

describe("feed pipeline: golden descriptions per encoder path", () => {
  it("test picture → x264 (the software fallback): I420 into the encoder, constrained baseline", () => {
    expect(elements(plan())).toEqual([
      "videotestsrc is-live=true pattern=smpte",
      "video/x-raw,width=1280,height=720,framerate=30/1",
      'clockoverlay halignment=right valignment=bottom time-format="%H:%M:%S" font-desc="Sans 24"',
      "videorate name=rate drop-only=true",
      "videoscale",
      "videoconvert",
      // I420 right before x264enc, or it emits High 4:4:4, which browsers refuse.
      'capsfilter name=mode caps="video/x-raw,format=(string)I420,width=1280,height=720,framerate=30/1"',
      "x264enc name=enc tune=zerolatency speed-preset=ultrafast bitrate=1500 vbv-buf-capacity=300 key-int-max=60 bframes=0",
      "video/x-h264,profile=(string)constrained-baseline,level=(string)3.1,stream-format=(string)byte-stream,alignment=(string)au",
      "rtph264pay name=pay pt=96 mtu=1200 config-interval=-1 aggregate-mode=none",
      "udpsink host=127.0.0.1 port=5004 sync=false async=false",
    ]);
  });

  it("Pi 4: MJPEG decoded by v4l2jpegdec, v4l2convert, v4l2h264enc with extra-controls and a level", () => {
    expect(
      elements(plan({ source: MJPEG_CAMERA, encoder: "v4l2h264enc", fullMode: FULL_HD, mode: FULL_HD })),
    ).toEqual([
      "v4l2src device=/dev/v4l/by-id/usb-046d_HD_Pro_Webcam_C920_ABCD1234-video-index0 io-mode=mmap",
      "image/jpeg,width=1920,height=1080,framerate=30/1",
      "jpegparse",
      "v4l2jpegdec",
      "videorate name=rate drop-only=true",
      "v4l2convert",
      'capsfilter name=mode caps="video/x-raw,format=(string)I420,width=1920,height=1080,framerate=30/1"',
      'v4l2h264enc name=enc extra-controls="controls,video_bitrate_mode=1,video_bitrate=1500000,h264_i_frame_period=60,repeat_sequence_header=1"',
      "video/x-h264,profile=(string)constrained-baseline,level=(string)4,stream-format=(string)byte-stream,alignment=(string)au",
      "rtph264pay name=pay pt=96 mtu=1200 config-interval=-1 aggregate-mode=none",
      "udpsink host=127.0.0.1 port=5004 sync=false async=false",
    ]);
  });

  it("Intel VA: vapostproc scales into VA memory, vah264enc in CBR without B-frames, Main profile", () => {
    const chain = elements(plan({ encoder: "vah264enc" }));
    expect(chain.slice(3, 9)).toEqual([
      "videorate name=rate drop-only=true",
      "vapostproc",
      'capsfilter name=mode caps="video/x-raw(memory:VAMemory),format=(string)NV12,width=1280,height=720,framerate=30/1"',
      "vah264enc name=enc rate-control=cbr bitrate=1500 key-int-max=60 b-frames=0",
      "video/x-h264,profile=(string)main,level=(string)3.1,stream-format=(string)byte-stream,alignment=(string)au",
      "rtph264pay name=pay pt=96 mtu=1200 config-interval=-1 aggregate-mode=none",
    ]);
  });

  it.each([
    [
      "vaapih264enc",
      ["vaapipostproc"],
      "vaapih264enc name=enc rate-control=cbr bitrate=1500 keyframe-period=60 max-bframes=0",
    ],
    [
      "qsvh264enc",
      ["videoscale", "videoconvert"],
      "qsvh264enc name=enc rate-control=cbr bitrate=1500 gop-size=60 b-frames=0 low-latency=true",
    ],
    [
      "nvh264enc",
      ["cudaupload", "cudaconvert", "cudascale"],
      "nvh264enc name=enc preset=low-latency-hq rc-mode=cbr bitrate=1500 gop-size=60 bframes=0 zerolatency=true",
    ],
    [
      "nvv4l2h264enc",
      ["nvvidconv"],
      "nvv4l2h264enc name=enc bitrate=1500000 iframeinterval=60 insert-sps-pps=true maxperf-enable=true profile=0",
    ],
    [
      "openh264enc",
      ["videoscale", "videoconvert"],
      "openh264enc name=enc rate-control=bitrate bitrate=1500000 gop-size=60 complexity=low usage-type=camera",
    ],
  ] as const)("%s: its own scaler in front, its own rate control", (encoder, scaler, encoderElement) => {
    const chain = elements(plan({ encoder }));
    const rate = chain.indexOf("videorate name=rate drop-only=true");
    expect(chain.slice(rate + 1, rate + 1 + scaler.length)).toEqual(scaler);
    expect(chain[rate + 1 + scaler.length]).toMatch(/^capsfilter name=mode caps=/);
    expect(chain[rate + 2 + scaler.length]).toBe(encoderElement);
  });

  it("raw capture asks for the device's format, size and rate explicitly instead of hoping caps negotiate", () => {
    const raw: VideoSourcePlan = {
      ...MJPEG_CAMERA,
      capture: { format: "raw", rawFormat: "YUY2", width: 640, height: 480, framerate: 30 },
    };
    expect(elements(plan({ source: raw })).slice(0, 3)).toEqual([
      "v4l2src device=/dev/v4l/by-id/usb-046d_HD_Pro_Webcam_C920_ABCD1234-video-index0 io-mode=mmap",
      "video/x-raw,format=(string)YUY2,width=640,height=480,framerate=30/1",
      "videorate name=rate drop-only=true",
    ]);
  });

  it("a Pi CSI camera through libcamera, NV12 at the feed's full mode", () => {
    expect(
      elements(plan({ source: { type: "libcamera", camera: "/base/soc/i2c0mux/i2c@1/imx219@10" } })).slice(
        0,
        2,
      ),
    ).toEqual([
      'libcamerasrc camera-name="/base/soc/i2c0mux/i2c@1/imx219@10"',
      "video/x-raw,format=(string)NV12,width=1280,height=720,framerate=30/1",
    ]);
  });

  it("a degradation step changes only the mode caps; the level stays the full mode's, so the SDP holds", () => {
    const full = elements(plan({ fullMode: FULL_HD, mode: FULL_HD }));
    const stepped = elements(plan({ fullMode: FULL_HD, mode: { width: 960, height: 540, framerate: 30 } }));
    const differing = full.filter((node, index) => stepped[index] !== node);
    expect(differing).toEqual([
      'capsfilter name=mode caps="video/x-raw,format=(string)I420,width=1920,height=1080,framerate=30/1"',
    ]);
  });

  it("the keyframe interval is in frames of the full mode", () => {
    expect(elements(plan({ keyframeIntervalSeconds: 1 })).find((e) => e.startsWith("x264enc"))).toContain(
      "key-int-max=30 ",
    );
  });

  it("the room microphone runs beside the video: Opus RTP to its own loopback port, with a level meter", () => {
    const audio = { source: { type: "test" as const, frequencyHz: 440 }, bitrateKbps: 32 };
    const pipeline = buildFeedPipeline(plan({ audio }), { video: 5004, audio: 5006 });
    const [video, sound] = pipeline.launch.split("  ");
    expect(video).toContain("udpsink host=127.0.0.1 port=5004");
    expect(sound?.split(" ! ")).toEqual([
      "audiotestsrc name=mic is-live=true wave=sine freq=440 volume=0.2",
      "audioconvert",
      "audioresample",
      "audio/x-raw,rate=48000,channels=1",
      "level name=level interval=1000000000 post-messages=true",
      "opusenc bitrate=32000 audio-type=voice frame-size=20",
      "rtpopuspay pt=111",
      "udpsink host=127.0.0.1 port=5006 sync=false async=false",
    ]);
  });

  it("an ALSA microphone is opened by its device id", () => {
    const audio = { source: { type: "alsa" as const, device: "hw:CARD=Device,DEV=0" }, bitrateKbps: 24 };
    const launch = buildFeedPipeline(plan({ audio }), { video: 1, audio: 2 }).launch;
    expect(launch).toContain('alsasrc name=mic device="hw:CARD=Device,DEV=0" ! audioconvert');
    expect(launch).toContain("opusenc bitrate=24000");
  });

  it("names the V4L2 device for the pre-start check", () => {
    expect(buildFeedPipeline(plan({ source: MJPEG_CAMERA }), { video: 1 }).sourceDevice).toBe(
      MJPEG_CAMERA.device,
    );
    expect(buildFeedPipeline(plan(), { video: 1 }).sourceDevice).toBeUndefined();
  });

  it.each(ENCODER_IDS)(
    "%s: every element of its feed and probe pipelines is allowed, and the only sink is loopback UDP",
    (encoder: EncoderId) => {
      for (const pipeline of [
        buildFeedPipeline(plan({ encoder, source: MJPEG_CAMERA }), { video: 1 }),
        buildProbePipeline(encoder, 1),
      ]) {
        const nodes = pipeline.description.chains.flat();
        for (const node of nodes)
          if (node.kind === "element") expect(ALLOWED_ELEMENTS.has(node.factory)).toBe(true);
        const sinks = pipeline.launch.match(/\b\w+sink\b/g);
        expect(sinks).toEqual(["udpsink"]);
      }
    },
  );
});

describe("safe construction", () => {
  const hostile = "/dev/video0 ! filesink location=/tmp/x";

  it("refuses a hostile device name in the configuration before any pipeline is built", () => {
    const input = configInput({
      feeds: [{ ...configInput().feeds[0], source: { type: "v4l2", device: hostile } }],
    });
    expect(() => parseConfig(input, "test")).toThrow(/feeds\.0\.source\.device/);
  });

  it("keeps a hostile value inside one quoted property even if it got past the configuration", () => {
    const source: VideoSourcePlan = { ...MJPEG_CAMERA, device: hostile };
    const launch = buildFeedPipeline(plan({ source }), { video: 1 }).launch;
    expect(launch.startsWith('v4l2src device="/dev/video0 ! filesink location=/tmp/x" io-mode=mmap ! ')).toBe(
      true,
    );
    // Outside quoted values, no filesink and exactly the chain's own links.
    const unquoted = launch.replace(/"(?:\\.|[^"\\])*"/g, '""');
    expect(unquoted).not.toContain("filesink");
    expect(unquoted.split(" ! ")).toHaveLength(elements(plan({ source: MJPEG_CAMERA })).length);
  });

  it.each([
    ['a quote: camera" ! filesink location=/tmp/x', '"a quote: camera\\" ! filesink location=/tmp/x"'],
    ["back\\slash", '"back\\\\slash"'],
    ["/dev/v4l/by-id/usb-plain_name-video-index0", "/dev/v4l/by-id/usb-plain_name-video-index0"],
    [30, "30"],
    [true, "true"],
  ])("quotes and escapes %j as %s", (value, expected) => {
    expect(launchValue(value)).toBe(expected);
  });

  it.each([
    ["filesink", 'element "filesink" is not allowed'],
    ["multifilesink", "not allowed"],
    ["splitmuxsink", "not allowed"],
    ["tcpserversink", "not allowed"],
  ])("refuses %s", (factory, message) => {
    expect(() => toLaunch({ chains: [[element("videotestsrc"), element(factory)]] })).toThrow(message);
  });

  it("refuses a UDP sink that sends anywhere but loopback", () => {
    const chain = [element("videotestsrc"), element("udpsink", { host: "198.51.100.7", port: 5000 })];
    expect(() => toLaunch({ chains: [chain] })).toThrow(PipelineRejected);
  });

  it.each([
    [
      "udpsink",
      { host: "127.0.0.1", port: 5000, clients: "198.51.100.7:5000" },
      "udpsink may not be given clients",
    ],
    ["fakesink", { dump: true }, "fakesink may not be given dump"],
  ])("refuses %s properties that send or write media elsewhere", (factory, properties, message) => {
    expect(() => toLaunch({ chains: [[element("videotestsrc"), element(factory, properties)]] })).toThrow(
      message,
    );
  });

  it("refuses property names and caps values that could end an element", () => {
    expect(() => toLaunch({ chains: [[element("videotestsrc", { "pattern ! filesink": 1 })]] })).toThrow(
      /not a property name/,
    );
    expect(() =>
      toLaunch({
        chains: [
          [
            element("videotestsrc"),
            { kind: "caps", media: "video/x-raw", fields: { format: "I420 ! filesink" } },
          ],
        ],
      }),
    ).toThrow(/not a plain token/);
  });
});
