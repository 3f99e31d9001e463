import { ENCODER_NAME } from "../../pipelines/feed-pipeline.js";
import type { ErrorCode } from "./errors.js";

/** A GStreamer bus error as the worker receives it: the element that posted it, its text and debug detail. */
export interface BusError {
  element: string;
  message: string;
  debug?: string;
}

/**
 * The stable code for a bus error, so that the fleet can tell a technician's problem (camera missing or
 * taken by another program, a format the camera cannot give) from the box's own (the encoder). GStreamer's
 * texts are matched, in this order, because the error domain does not reach JavaScript.
 */
export function busErrorCode(error: BusError): ErrorCode {
  const text = `${error.message}\n${error.debug ?? ""}`;
  // A source that cannot give the caps asked for: "Internal data stream error" with reason not-negotiated.
  if (/not-negotiated/i.test(text)) return "SPOKE_FEED_FORMAT_UNSUPPORTED";
  if (/busy|EBUSY/i.test(text)) return "SPOKE_FEED_SOURCE_BUSY";
  // libcamerasrc: "Could not find a camera named '…'", "Could not find any supported camera on this system".
  if (
    /no such (file|device)|does not exist|resource not found|cannot identify device|could not find (a|any) .*camera/i.test(
      text,
    )
  )
    return "SPOKE_FEED_SOURCE_MISSING";
  if (error.element === ENCODER_NAME) return "SPOKE_FEED_ENCODER_FAILED";
  if (/timed? ?out/i.test(text)) return "SPOKE_FEED_STALLED";
  return "SPOKE_FEED_PIPELINE_ERROR";
}

/** The reason GStreamer gives in the debug detail ("streaming stopped, reason not-negotiated (-4)"). */
export function busErrorReason(debug: string | undefined): string | undefined {
  return debug ? /\breason ([a-z-]+) \(-?\d+\)/.exec(debug)?.[1] : undefined;
}
