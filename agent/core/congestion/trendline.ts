import type { DelayVariation } from "./inter-arrival.js";

/**
 * Is the queue at the bottleneck growing? Each group adds its delay variation to an accumulated delay;
 * the accumulated delay is smoothed (noise from the sender's pacing and the receiver's clock is large
 * next to a queue growing by a millisecond per frame) and a least-squares line is fitted to the last
 * window of (arrival time, smoothed delay) points. The slope, in ms of queue per ms of time, is the
 * trend: 0 on an idle link, positive while we send more than the link carries, negative while it drains.
 * Windowed regression reacts within a few frames and ignores single late packets (GCC's trendline filter,
 * which replaced the draft's Kalman filter in libwebrtc).
 */

export const TRENDLINE_WINDOW = 20;
export const TRENDLINE_SMOOTHING = 0.9;

export interface TrendSample {
  /** The fitted slope, unscaled; `undefined` until the window has filled. */
  slope: number | undefined;
  /** Accumulated delay variation, ms, before smoothing: how far the queue grew since the start. */
  accumulatedDelayMs: number;
  /** How many variations were seen (for the detector's gain, which trusts a young estimate less). */
  deltas: number;
  arrivalMs: number;
}

export interface Trendline {
  update(variation: DelayVariation): TrendSample;
  reset(): void;
}

export function createTrendline(window = TRENDLINE_WINDOW, smoothing = TRENDLINE_SMOOTHING): Trendline {
  let points: { x: number; y: number }[] = [];
  let firstArrivalMs: number | undefined;
  let accumulated = 0;
  let smoothed = 0;
  let deltas = 0;

  return {
    update(variation) {
      const arrivalMs = variation.arrivalUs / 1000;
      firstArrivalMs ??= arrivalMs;
      deltas += 1;
      accumulated += (variation.arrivalDeltaUs - variation.sendDeltaUs) / 1000;
      smoothed = smoothing * smoothed + (1 - smoothing) * accumulated;
      points.push({ x: arrivalMs - firstArrivalMs, y: smoothed });
      if (points.length > window) points = points.slice(points.length - window);
      return {
        slope: points.length === window ? fitSlope(points) : undefined,
        accumulatedDelayMs: accumulated,
        deltas,
        arrivalMs,
      };
    },
    reset() {
      points = [];
      firstArrivalMs = undefined;
      accumulated = 0;
      smoothed = 0;
      deltas = 0;
    },
  };
}

/** Least-squares slope; `undefined` when all x are equal (no time passed). */
export function fitSlope(points: readonly { x: number; y: number }[]): number | undefined {
  const n = points.length;
  if (n < 2) return undefined;
  let sumX = 0;
  let sumY = 0;
  for (const p of points) {
    sumX += p.x;
    sumY += p.y;
  }
  const meanX = sumX / n;
  const meanY = sumY / n;
  let numerator = 0;
  let denominator = 0;
  for (const p of points) {
    numerator += (p.x - meanX) * (p.y - meanY);
    denominator += (p.x - meanX) ** 2;
  }
  return denominator === 0 ? undefined : numerator / denominator;
}
