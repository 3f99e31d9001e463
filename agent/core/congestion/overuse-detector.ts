import type { TrendSample } from "./trendline.js";

/**
 * Turns the trend into a signal: over-using, normal or under-using (GCC §5.4). The trend is scaled by
 * the number of deltas seen (capped at 60) and a gain of 4, so that it is in ms over a typical window,
 * and compared with a threshold that adapts: it rises slowly towards large trends (k_up) and falls quickly
 * towards small ones (k_down). A fixed threshold would either starve against a loss-based TCP flow that
 * keeps the queue full, or never fire on a quiet link; the adaptive one follows what is normal on this
 * path. Over-use is declared only when the trend stays above the threshold for 10 ms and more than one
 * group, and is not falling: one late frame is not congestion.
 */

export type BandwidthUsage = "normal" | "overusing" | "underusing";

export const THRESHOLD_GAIN = 4;
export const MIN_DELTAS_FOR_FULL_GAIN = 60;
export const INITIAL_THRESHOLD_MS = 12.5;
export const THRESHOLD_BOUNDS_MS = { min: 6, max: 600 } as const;
/** Adaptation rates per ms: slow up so that congestion cannot talk itself into being normal. */
export const K_UP = 0.0087;
export const K_DOWN = 0.039;
const OVERUSE_TIME_MS = 10;
/** A trend this far beyond the threshold is a spike (a route change), not something to adapt to. */
const MAX_ADAPT_EXCESS_MS = 15;
const MAX_ADAPT_STEP_MS = 100;

export interface OveruseDetector {
  detect(sample: TrendSample): BandwidthUsage;
  state(): BandwidthUsage;
  thresholdMs(): number;
}

export function createOveruseDetector(): OveruseDetector {
  let threshold = INITIAL_THRESHOLD_MS;
  let usage: BandwidthUsage = "normal";
  let lastUpdateMs: number | undefined;
  let overusingSinceMs: number | undefined;
  let overuseCount = 0;
  let previousTrend = 0;

  const adapt = (trend: number, nowMs: number) => {
    const magnitude = Math.abs(trend);
    if (lastUpdateMs === undefined) lastUpdateMs = nowMs;
    if (magnitude > threshold + MAX_ADAPT_EXCESS_MS) {
      lastUpdateMs = nowMs;
      return;
    }
    const k = magnitude < threshold ? K_DOWN : K_UP;
    const dt = Math.min(Math.max(0, nowMs - lastUpdateMs), MAX_ADAPT_STEP_MS);
    threshold += k * (magnitude - threshold) * dt;
    threshold = Math.min(THRESHOLD_BOUNDS_MS.max, Math.max(THRESHOLD_BOUNDS_MS.min, threshold));
    lastUpdateMs = nowMs;
  };

  return {
    detect(sample) {
      if (sample.slope === undefined) return usage;
      const trend = Math.min(sample.deltas, MIN_DELTAS_FOR_FULL_GAIN) * sample.slope * THRESHOLD_GAIN;
      const nowMs = sample.arrivalMs;
      if (trend > threshold) {
        overusingSinceMs ??= nowMs;
        overuseCount += 1;
        if (nowMs - overusingSinceMs >= OVERUSE_TIME_MS && overuseCount > 1 && trend >= previousTrend) {
          usage = "overusing";
        }
      } else {
        overusingSinceMs = undefined;
        overuseCount = 0;
        usage = trend < -threshold ? "underusing" : "normal";
      }
      previousTrend = trend;
      adapt(trend, nowMs);
      return usage;
    },
    state: () => usage,
    thresholdMs: () => threshold,
  };
}
