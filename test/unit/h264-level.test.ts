import { describe, expect, it } from "vitest";
import { h264Level } from "../../pipelines/h264-level.js";

describe("H.264 level of a feed", () => {
  it.each([
    [640, 360, 30, 800, "3.1", "42e01f"],
    [1280, 720, 30, 2000, "3.1", "42e01f"],
    [1280, 720, 30, 16000, "3.2", "42e020"], // the bitrate, not the size, needs more
    [1280, 720, 60, 4000, "3.2", "42e020"],
    [1920, 1080, 30, 4000, "4", "42e028"],
    [1920, 1080, 60, 6000, "4.2", "42e02a"],
    [3840, 2160, 30, 20000, "5.1", "42e033"],
    [3840, 2160, 60, 20000, "5.2", "42e034"],
  ])("%ix%i at %i fps and %i kbit/s is level %s (%s)", (width, height, framerate, bitrateKbps, name, id) => {
    expect(h264Level({ width, height, framerate, bitrateKbps })).toEqual({ name, profileLevelId: id });
  });
});
