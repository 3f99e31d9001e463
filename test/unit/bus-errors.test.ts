import { describe, expect, it } from "vitest";
import { type BusError, busErrorCode, busErrorReason } from "../../agent/core/bus-errors.js";
import type { ErrorCode } from "../../agent/core/errors.js";

const notNegotiated =
  "../libs/gst/base/gstbasesrc.c(3132): gst_base_src_loop (): /GstPipeline:pipeline0/GstV4l2Src:v4l2src0:\nstreaming stopped, reason not-negotiated (-4)";

describe("GStreamer bus errors", () => {
  it.each<[string, BusError, ErrorCode]>([
    [
      "a camera taken by another program",
      { element: "v4l2src0", message: "Device '/dev/video0' is busy", debug: "Device or resource busy (16)" },
      "SPOKE_FEED_SOURCE_BUSY",
    ],
    [
      "a busy device reported only in the debug detail",
      {
        element: "v4l2src0",
        message: "Could not open device.",
        debug: "system error: Device or resource busy",
      },
      "SPOKE_FEED_SOURCE_BUSY",
    ],
    [
      "a CSI camera that libcamera cannot find",
      { element: "libcamerasrc0", message: "Could not find any supported camera on this system." },
      "SPOKE_FEED_SOURCE_MISSING",
    ],
    [
      "a camera unplugged while streaming",
      {
        element: "v4l2src0",
        message: "Could not read from resource.",
        debug: "poll error 1: No such device (19)",
      },
      "SPOKE_FEED_SOURCE_MISSING",
    ],
    [
      "a device path that does not exist",
      { element: "v4l2src0", message: "Cannot identify device '/dev/video9'." },
      "SPOKE_FEED_SOURCE_MISSING",
    ],
    [
      "a file source without its file",
      { element: "filesrc0", message: "Resource not found.", debug: 'No such file "/nonexistent"' },
      "SPOKE_FEED_SOURCE_MISSING",
    ],
    [
      "a camera that cannot give the caps asked for",
      { element: "v4l2src0", message: "Internal data stream error.", debug: notNegotiated },
      "SPOKE_FEED_FORMAT_UNSUPPORTED",
    ],
    [
      "the encoder refusing its input format",
      { element: "enc", message: "Internal data stream error.", debug: "reason not-negotiated (-4)" },
      "SPOKE_FEED_FORMAT_UNSUPPORTED",
    ],
    [
      "the encoder failing",
      { element: "enc", message: "Can not initialize x264 encoder." },
      "SPOKE_FEED_ENCODER_FAILED",
    ],
    [
      "a source that times out",
      { element: "v4l2src0", message: "Timeout when trying to read from device." },
      "SPOKE_FEED_STALLED",
    ],
    [
      "anything else",
      { element: "udpsink0", message: "Could not get/set settings from/on resource." },
      "SPOKE_FEED_PIPELINE_ERROR",
    ],
    [
      "an element that only looks like the encoder",
      { element: "encoder-helper", message: "Something failed." },
      "SPOKE_FEED_PIPELINE_ERROR",
    ],
  ])("maps %s", (_case, error, code) => {
    expect(busErrorCode(error)).toBe(code);
  });

  it("finds the reason in the debug detail", () => {
    expect(busErrorReason(notNegotiated)).toBe("not-negotiated");
    expect(busErrorReason("no reason here")).toBeUndefined();
    expect(busErrorReason(undefined)).toBeUndefined();
  });
});
