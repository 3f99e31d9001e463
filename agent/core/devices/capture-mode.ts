import { SpokeError } from "../errors.js";
import type { FrameRates, FrameSize, VideoFormat } from "./v4l2.js";

/** What a feed wants from its source. */
export interface CaptureProfile {
  width: number;
  height: number;
  framerate: number;
}

export interface CaptureMode {
  /** `raw`: `video/x-raw,format=<gstFormat>`; `mjpeg`: `image/jpeg`, decoded before the encoder. */
  format: "raw" | "mjpeg";
  fourcc: string;
  /** For raw modes, the GStreamer format (`YUY2` for `YUYV`). */
  gstFormat?: string;
  width: number;
  height: number;
  framerate: number;
  /** One sentence on why this mode, for logs and `spoke devices`. */
  reason: string;
}

/** A mode the device offers, before one is chosen (and given its reason). */
type Candidate = Omit<CaptureMode, "reason">;

/** 29.97 meets 30: NTSC-style rates are within 0.5 % of the round figure a profile names. */
const meetsRate = (fps: number, wanted: number) => fps >= wanted * 0.995;
const label = (c: { width: number; height: number; framerate: number }) =>
  `${c.width}x${c.height}@${c.framerate}`;

function snap(wanted: number, min: number, max: number, step: number): number {
  const clamped = Math.min(Math.max(wanted, min), max);
  const stepped = min + Math.round((clamped - min) / step) * step;
  return stepped > max ? stepped - step : stepped;
}

/** The rates a size offers that matter for `wanted`: every discrete one, or the wanted rate clamped. */
function ratesFor(rates: FrameRates, wanted: number): number[] {
  if (rates.type === "discrete") return rates.fps;
  return [Math.min(Math.max(wanted, rates.minFps), rates.maxFps)];
}

function sizesFor(size: FrameSize, profile: CaptureProfile): { width: number; height: number }[] {
  if (size.type === "discrete") return [{ width: size.width, height: size.height }];
  return [
    {
      width: snap(profile.width, size.minWidth, size.maxWidth, size.stepWidth),
      height: snap(profile.height, size.minHeight, size.maxHeight, size.stepHeight),
    },
  ];
}

function candidates(formats: readonly VideoFormat[], profile: CaptureProfile): Candidate[] {
  const found: Candidate[] = [];
  for (const f of formats) {
    if (f.kind !== "raw" && f.kind !== "mjpeg") continue;
    for (const size of f.sizes) {
      const rates = ratesFor(size.rates, profile.framerate);
      for (const { width, height } of sizesFor(size, profile)) {
        for (const framerate of rates) {
          const gst = f.gstFormat ? { gstFormat: f.gstFormat } : {};
          found.push({ format: f.kind, fourcc: f.fourcc, ...gst, width, height, framerate });
        }
      }
    }
  }
  return found;
}

/**
 * How close a size is to the wanted one, smaller is closer: the exact size first, then sizes that cover
 * it (scaled down, no detail lost) from the smallest up, the wanted aspect ratio first (a 4:3 mode for a
 * 16:9 feed is cropped or squeezed, and carries pixels over USB that are thrown away), then smaller
 * sizes from the largest down.
 */
function sizeRank(c: Candidate, profile: CaptureProfile): [number, number, number] {
  const area = c.width * c.height;
  if (c.width === profile.width && c.height === profile.height) return [0, 0, 0];
  const otherAspect = Math.abs(c.width / c.height - profile.width / profile.height) > 0.01 ? 1 : 0;
  if (c.width >= profile.width && c.height >= profile.height) return [1, otherAspect, area];
  // Below the wanted size, detail matters more than shape: the largest first.
  return [2, -area, otherAspect];
}

/** Among rates that meet the profile the lowest (least bandwidth), otherwise the highest. */
function rateRank(c: Candidate, profile: CaptureProfile): number {
  return meetsRate(c.framerate, profile.framerate) ? c.framerate : -c.framerate;
}

function compare(a: Candidate, b: Candidate, profile: CaptureProfile): number {
  const keys = (c: Candidate) => {
    const meets = meetsRate(c.framerate, profile.framerate);
    const kind = c.format === "raw" ? 0 : 1;
    // Short of the profile's rate, the highest rate matters more than avoiding a decode.
    const [first, second] = meets ? [kind, rateRank(c, profile)] : [rateRank(c, profile), kind];
    return [meets ? 0 : 1, ...sizeRank(c, profile), first, second];
  };
  const ka = keys(a);
  const kb = keys(b);
  for (let i = 0; i < ka.length; i++) {
    const d = (ka[i] ?? 0) - (kb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function reasonFor(chosen: Candidate, all: Candidate[], profile: CaptureProfile): string {
  const wanted = label(profile);
  const meetsSize = chosen.width === profile.width && chosen.height === profile.height;
  const meetsFps = meetsRate(chosen.framerate, profile.framerate);
  const kind = chosen.format === "raw" ? `raw ${chosen.fourcc}` : "MJPEG";
  if (meetsSize && meetsFps) {
    if (chosen.format === "raw") return `${kind} ${label(chosen)} meets ${wanted}`;
    const raw = all.filter(
      (c) => c.format === "raw" && c.width === profile.width && c.height === profile.height,
    );
    const best = raw.reduce((top, c) => Math.max(top, c.framerate), 0);
    return raw.length > 0
      ? `raw offers ${profile.width}x${profile.height} at ${best} fps at most; MJPEG ${label(chosen)} meets ${wanted}`
      : `no raw format offers ${profile.width}x${profile.height}; MJPEG ${label(chosen)} meets ${wanted}`;
  }
  const size = meetsSize
    ? ""
    : chosen.width >= profile.width && chosen.height >= profile.height
      ? `, the nearest size above ${profile.width}x${profile.height} (scaled down)`
      : `, the largest size below ${profile.width}x${profile.height}`;
  const rate = meetsFps
    ? ""
    : `; nothing meets ${profile.framerate} fps, so the highest rate offered (${chosen.framerate} fps)`;
  return `${kind} ${label(chosen)}${size}${rate}; wanted ${wanted}`;
}

/**
 * Chooses the capture format and mode for a wanted profile from what a device advertises. The rules, in
 * order: a frame rate that meets the profile whenever one exists (never a lower one); then the size
 * closest to the profile (exact, else the smallest that covers it, else the largest below it); then raw
 * before MJPEG (no decode) — so raw when raw meets the size and rate, MJPEG when raw cannot (USB 2 raw
 * 1080p is often 5 fps); then the lowest rate that meets the profile. When no rate meets it, the highest
 * rate at the closest size, raw or MJPEG. Throws
 * `SPOKE_DEVICE_NO_USABLE_MODE` when the device offers no raw or MJPEG mode at all (Bayer sensors behind
 * unicam, codec nodes, metadata nodes).
 */
export function chooseCaptureMode(formats: readonly VideoFormat[], profile: CaptureProfile): CaptureMode {
  const all = candidates(formats, profile);
  const [chosen] = [...all].sort((a, b) => compare(a, b, profile));
  if (!chosen) {
    const offered = formats.map((f) => f.fourcc).join(", ") || "no formats";
    throw new SpokeError(
      "SPOKE_DEVICE_NO_USABLE_MODE",
      `the device offers no raw or MJPEG capture mode (it offers ${offered})`,
      { context: { offered: formats.map((f) => f.fourcc) } },
    );
  }
  return { ...chosen, reason: reasonFor(chosen, all, profile) };
}
