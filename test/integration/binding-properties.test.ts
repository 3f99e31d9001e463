import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";

const PROBE_TIMEOUT_MS = 20_000;

/**
 * Runs one probe of test/helpers/binding-probe.ts in its own process and returns the JSON line it
 * prints. The process is killed once the line is in (GStreamer may hang on exit) or at the timeout.
 */
function probe(name: string): Promise<Record<string, unknown>> {
  const child = spawn(process.execPath, ["--import", "tsx", "test/helpers/binding-probe.ts", name], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => finish(new Error(`probe ${name} timed out; stderr:\n${stderr}`)),
      PROBE_TIMEOUT_MS,
    );
    const finish = (error?: Error): void => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      const line = stdout.split("\n")[0] ?? "";
      if (error) reject(error);
      else resolve(JSON.parse(line) as Record<string, unknown>);
    };
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
      if (stdout.includes("\n")) finish();
    });
    child.once("exit", (code, signal) => {
      if (!stdout.includes("\n"))
        finish(new Error(`probe ${name} exited (${code ?? signal}); stderr:\n${stderr}`));
    });
  });
}

describe("gstreamer-superficial properties set from strings", () => {
  it("sets a GstStructure property (v4l2src extra-controls) and reads it back as text", async () => {
    const result = await probe("structure");
    expect(result.before).toBeNull();
    expect(result.threw).toBeUndefined();
    // GStreamer writes the field's type back in: "controls, video_bitrate=(int)1000000;".
    expect(result.after).toMatch(/^controls, video_bitrate=(\(int\))?1000000;?$/);
  });

  it("sets enums and flags by their names, and keeps numbers as they were", async () => {
    const result = await probe("enums");
    expect(result.patternBefore).toBe("smpte");
    expect(result.pattern).toEqual({ after: "ball" });
    expect(result.speedPresetBefore).toBe("medium");
    expect(result.speedPreset).toEqual({ after: "ultrafast" });
    expect(result.tune).toEqual({ after: "Zero latency" });
    expect(result.bitrate).toEqual({ after: 750 });
    expect(result.bitrateFromText).toEqual({ after: 900 });
  });

  it("throws a TypeError naming the property and type for text GStreamer cannot parse, and keeps the value", async () => {
    const result = await probe("unparsable");
    expect(result.structure).toEqual({
      threw:
        "TypeError: cannot set property 'extra-controls' of GstV4l2Src: GStreamer cannot parse " +
        '"controls,video_bitrate=(int)fast" as a GstStructure',
      after: "controls, video_bitrate=(int)1000000;",
    });
    expect(result.enumValue).toMatchObject({
      threw: expect.stringContaining('cannot parse "no-such-pattern" as a GstVideoTestSrcPattern'),
      after: "smpte",
    });
    expect(result.caps).toMatchObject({
      threw: expect.stringContaining('cannot parse "video/x-raw,width==" as a GstCaps'),
      after: "video/x-raw, width=(int)320",
    });
  });

  it("renegotiates a playing pipeline when a capsfilter's caps change", async () => {
    const result = await probe("capsAtRunTime");
    expect(result.sizes).toEqual(["320x240", "640x480"]);
    expect(result.capsAfter).toBe("video/x-raw, width=(int)640, height=(int)480");
  });
});
