import type { Mode } from "../profiles.js";
import type { FrameRates, FrameSize, VideoFormat } from "./v4l2.js";

/**
 * A device's native mode: its largest raw or MJPEG picture, at the highest frame rate offered for it.
 * For an HDMI capture dongle this is the ultrasound machine's own output as the dongle passes it on.
 */
export function nativeMode(formats: readonly VideoFormat[]): Mode | undefined {
  let best: Mode | undefined;
  for (const format of formats) {
    if (format.kind !== "raw" && format.kind !== "mjpeg") continue;
    for (const size of format.sizes) {
      const candidate = largest(size);
      if (
        !best ||
        area(candidate) > area(best) ||
        (area(candidate) === area(best) && candidate.framerate > best.framerate)
      ) {
        best = candidate;
      }
    }
  }
  return best;
}

function largest(size: FrameSize): Mode {
  const framerate = Math.round(maxRate(size.rates));
  return size.type === "discrete"
    ? { width: size.width, height: size.height, framerate }
    : { width: size.maxWidth, height: size.maxHeight, framerate };
}

function maxRate(rates: FrameRates): number {
  return rates.type === "discrete" ? Math.max(0, ...rates.fps) : rates.maxFps;
}

const area = (mode: Mode) => mode.width * mode.height;
