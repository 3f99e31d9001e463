/**
 * Catches an encoder that does not keep to its share. On demanding content (sensor noise, snow) a
 * software encoder at its highest quantiser still makes more than it is asked for at the rung's size
 * and frame rate; cutting its bitrate further changes nothing, and the excess fills the bottleneck, so
 * the loss bound and over-use cut the estimate again, and the link runs saturated and lossy. What does
 * help is fewer pixels or frames: the next rung down the feed's own ladder (ultrasound gives up size,
 * the document camera frame rate, the camera both).
 *
 * Per feed: when the measured sent rate stays above its share by `OVERSHOOT_RATIO` for
 * `OVERSHOOT_SUSTAIN_MS` (the encoder's rate control had time to follow a new target), the best rung
 * the feed may take becomes one below the rung it is on. That limit is lifted one rung at a time after
 * the output has fitted its share (≤ `FIT_RATIO`) for a hold time; a better rung that overshoots again
 * soon after doubles the hold (up to `MAX_FIT_HOLD_MS`), so the feed does not flap between two rungs
 * on content that only the lower one can carry. Pure: time comes in with each sample.
 */

export const OVERSHOOT_RATIO = 1.25;
export const OVERSHOOT_SUSTAIN_MS = 2000;
/** Output within this share of the target counts as fitting: CBR encoders wander a little above it. */
export const FIT_RATIO = 1.1;
export const FIT_HOLD_MS = 10_000;
export const MAX_FIT_HOLD_MS = 80_000;

export interface OvershootSample {
  nowMs: number;
  /** What the feed sent over the last half second; undefined while too little was sent to tell. */
  sentKbps: number | undefined;
  /** The bitrate the encoder was given. */
  shareKbps: number;
  /** The rung the feed is on now (0 = full mode). */
  step: number;
  /** The lowest rung of its ladder: there is nothing below it to step to. */
  lastStep: number;
}

export interface OvershootGuard {
  /** Takes one sample; returns the best rung (lowest index) the feed may take now. */
  update(sample: OvershootSample): number;
  bestAllowed(): number;
}

export function createOvershootGuard(): OvershootGuard {
  let best = 0;
  let holdMs = FIT_HOLD_MS;
  let overSinceMs: number | undefined;
  let fitSinceMs: number | undefined;
  let relaxedAtMs: number | undefined;
  let seenStep: number | undefined;

  const stepDown = (sample: OvershootSample) => {
    best = Math.min(sample.lastStep, Math.max(best, sample.step + 1));
    overSinceMs = undefined;
    // The rung we last let it climb to did not hold: wait longer before trying it again.
    const soon = relaxedAtMs !== undefined && sample.nowMs - relaxedAtMs < holdMs + OVERSHOOT_SUSTAIN_MS;
    holdMs = soon ? Math.min(MAX_FIT_HOLD_MS, holdMs * 2) : FIT_HOLD_MS;
  };

  return {
    update(sample) {
      // A new rung is judged afresh: its encoder restarts and needs time to settle.
      if (sample.step !== seenStep) {
        seenStep = sample.step;
        overSinceMs = undefined;
        fitSinceMs = undefined;
      }
      const { sentKbps, shareKbps, nowMs } = sample;
      if (sentKbps === undefined || !(shareKbps > 0)) {
        overSinceMs = undefined;
        fitSinceMs = undefined;
        return best;
      }
      if (sentKbps > OVERSHOOT_RATIO * shareKbps) {
        fitSinceMs = undefined;
        overSinceMs ??= nowMs;
        if (nowMs - overSinceMs >= OVERSHOOT_SUSTAIN_MS && sample.step < sample.lastStep) stepDown(sample);
        return best;
      }
      overSinceMs = undefined;
      if (sentKbps > FIT_RATIO * shareKbps) {
        fitSinceMs = undefined;
        return best;
      }
      fitSinceMs ??= nowMs;
      if (best > 0 && nowMs - fitSinceMs >= holdMs) {
        best -= 1;
        relaxedAtMs = nowMs;
        fitSinceMs = undefined;
      }
      return best;
    },
    bestAllowed: () => best,
  };
}
