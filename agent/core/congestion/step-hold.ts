/**
 * Hysteresis in time for share-driven degradation steps. Every step change is a new sequence and a
 * keyframe at the receiver, and the estimate swings by ±30 % around a link's capacity; stepping up
 * as soon as one second's share clears the better rung's need (with `rungFor`'s 25 % margin) moved
 * a feed between two sizes five times in 15 s on the bottleneck bench.
 *
 * - Down at once: when the share no longer covers the current rung, waiting only means loss and delay.
 * - Up only after the share has supported the better rung continuously for `holdMs`; straight to the
 *   best rung that has been supported that long (one keyframe, not one per rung after a start at the
 *   bottom of the ladder).
 * - A step up undone within `UNDONE_WITHIN_MS` doubles the hold (up to `MAX_STEP_UP_HOLD_MS`): the
 *   share sits at the rung's edge, and trying again as often only churns. A step down later than that
 *   sets it back to `STEP_UP_HOLD_MS`.
 *
 * Pure: time comes in with each sample. The overshoot guard (encoder-overshoot.ts) limits the rungs
 * the share may buy before this sees them, so its own hold and this one add up when it lifts.
 */

export const STEP_UP_HOLD_MS = 6000;
export const MAX_STEP_UP_HOLD_MS = 48_000;
export const UNDONE_WITHIN_MS = 15_000;

export interface StepSample {
  nowMs: number;
  /** The rung the feed is on now (0 = full mode). */
  current: number;
  /** The rung `rungFor` gives from the current one: a step down when the share no longer covers it. */
  next: number;
  /** The best rung the share buys, however far up (`climbRung`), within the overshoot guard's limit. */
  supported: number;
}

export interface StepHold {
  /** Takes one sample; returns the rung the feed should be on. */
  update(sample: StepSample): number;
  holdMs(): number;
}

export function createStepHold(): StepHold {
  let holdMs = STEP_UP_HOLD_MS;
  /** Per better rung: since when the share has supported it without a break. */
  const supportedSince = new Map<number, number>();
  let steppedUpAtMs: number | undefined;

  const stepDown = (nowMs: number) => {
    const soon = steppedUpAtMs !== undefined && nowMs - steppedUpAtMs < UNDONE_WITHIN_MS;
    holdMs = soon ? Math.min(MAX_STEP_UP_HOLD_MS, holdMs * 2) : STEP_UP_HOLD_MS;
    steppedUpAtMs = undefined;
    supportedSince.clear();
  };

  return {
    update({ nowMs, current, next, supported }) {
      if (next > current) {
        stepDown(nowMs);
        return next;
      }
      for (const rung of [...supportedSince.keys()]) {
        if (rung >= current || rung < supported) supportedSince.delete(rung);
      }
      for (let rung = Math.max(0, supported); rung < current; rung += 1) {
        if (!supportedSince.has(rung)) supportedSince.set(rung, nowMs);
      }
      for (let rung = Math.max(0, supported); rung < current; rung += 1) {
        const since = supportedSince.get(rung);
        if (since !== undefined && nowMs - since >= holdMs) {
          steppedUpAtMs = nowMs;
          supportedSince.clear();
          return rung;
        }
      }
      return current;
    },
    holdMs: () => holdMs,
  };
}
