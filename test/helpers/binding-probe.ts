/**
 * A child process that drives gstreamer-superficial directly and prints what it saw as one JSON line on
 * stdout, for test/integration/binding-properties.test.ts. GStreamer runs here rather than in the test
 * runner because a process holding pipelines may hang on exit; the test kills this one once it has the
 * line.
 *   node --import tsx test/helpers/binding-probe.ts <probe>
 */
import { createRequire } from "node:module";

interface GstElement {
  [property: string]: unknown;
  pull?(callback: (buffer: Buffer | null, caps: Record<string, unknown>) => void): void;
}
interface GstPipeline {
  play(): void;
  stop(): void;
  findChild(name: string): GstElement | undefined;
}
interface GstModule {
  Pipeline: new (launch: string) => GstPipeline;
}

const gst = createRequire(import.meta.url)("gstreamer-superficial") as GstModule;

function element(pipeline: GstPipeline, name: string): GstElement {
  const found = pipeline.findChild(name);
  if (!found) throw new Error(`no element ${name}`);
  return found;
}

/** Sets a property and reports what the setter threw, if anything, and what reads back. */
function assign(target: GstElement, property: string, value: unknown): { threw?: string; after: unknown } {
  try {
    target[property] = value;
    return { after: target[property] };
  } catch (error) {
    return { threw: `${(error as Error).name}: ${(error as Error).message}`, after: target[property] };
  }
}

const probes: Record<string, () => unknown | Promise<unknown>> = {
  /** v4l2src needs no device until it starts: its extra-controls is a GstStructure. */
  structure: () => {
    const source = element(new gst.Pipeline("v4l2src name=src ! fakesink"), "src");
    const before = source["extra-controls"];
    return { before, ...assign(source, "extra-controls", "controls,video_bitrate=1000000") };
  },

  enums: () => {
    const pipeline = new gst.Pipeline("videotestsrc name=src ! x264enc name=enc ! fakesink");
    const source = element(pipeline, "src");
    const encoder = element(pipeline, "enc");
    return {
      patternBefore: source.pattern,
      pattern: assign(source, "pattern", "ball"),
      speedPresetBefore: encoder["speed-preset"],
      speedPreset: assign(encoder, "speed-preset", "ultrafast"),
      tune: assign(encoder, "tune", "zerolatency"),
      bitrate: assign(encoder, "bitrate", 750),
      bitrateFromText: assign(encoder, "bitrate", "900"),
    };
  },

  unparsable: () => {
    const pipeline = new gst.Pipeline(
      "v4l2src name=src ! fakesink videotestsrc name=test ! capsfilter name=f caps=video/x-raw,width=320 ! fakesink",
    );
    const source = element(pipeline, "src");
    assign(source, "extra-controls", "controls,video_bitrate=1000000");
    return {
      structure: assign(source, "extra-controls", "controls,video_bitrate=(int)fast"),
      enumValue: assign(element(pipeline, "test"), "pattern", "no-such-pattern"),
      caps: assign(element(pipeline, "f"), "caps", "video/x-raw,width=="),
    };
  },

  /** The size appsink receives before and after the capsfilter's caps change while playing. */
  capsAtRunTime: async () => {
    const pipeline = new gst.Pipeline(
      "videotestsrc is-live=true ! videoscale ! capsfilter name=f caps=video/x-raw,width=320,height=240 " +
        "! appsink name=sink max-buffers=1 drop=true",
    );
    const filter = element(pipeline, "f");
    const sink = element(pipeline, "sink");
    const sizes: string[] = [];
    let capsAfter: unknown;
    pipeline.play();
    await new Promise<void>((resolve) => {
      const onSample = (buffer: Buffer | null, caps: Record<string, unknown>): void => {
        const size = `${String(caps.width)}x${String(caps.height)}`;
        if (buffer && sizes.at(-1) !== size) sizes.push(size);
        if (!buffer || size === "640x480") {
          resolve();
        } else {
          // Changed while the first frames flow; the test waits for the new size to arrive.
          if (capsAfter === undefined) {
            filter.caps = "video/x-raw,width=640,height=480";
            capsAfter = filter.caps;
          }
          sink.pull?.(onSample);
        }
      };
      sink.pull?.(onSample);
    });
    pipeline.stop();
    return { sizes, capsAfter };
  },
};

const name = process.argv[2] ?? "";
const probe = probes[name];
if (!probe) throw new Error(`unknown probe ${name}; one of ${Object.keys(probes).join(", ")}`);
process.stdout.write(`${JSON.stringify(await probe())}\n`);
process.exit(0);
