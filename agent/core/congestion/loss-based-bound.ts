/**
 * An upper bound from packet loss in receiver reports (GCC §6): below 2 % loss the bound rises 5 % per
 * report, above 10 % it falls by half the loss (10 % lost → ×0.95, 50 % → ×0.75), in between it holds.
 * Delay catches a queue building; loss catches what delay cannot: a shallow queue that overflows before
 * the trend shows, or a policer. Random loss of a few percent (radio links) leaves it alone, so the rate
 * does not collapse on a link that is lossy but not full. After three clean reports in a row the bound
 * steps aside (to 1.5 × the rate in force), so that recovering from a loss episode is the delay-based
 * rate's business, which can tell whether the link has room.
 */

export const LOSS_LOW = 0.02;
export const LOSS_HIGH = 0.1;
export const LOSS_INCREASE = 1.05;
/** Clean reports in a row after which the bound no longer holds the rate back. */
const CLEAN_REPORTS_TO_LIFT = 3;
/** Lifted, the bound sits this far above the rate in force: the delay-based rate's own limit. */
const LIFT_FACTOR = 1.5;
/** Two cuts within one report interval plus an RTT would count the same loss twice. */
const MIN_DECREASE_INTERVAL_US = 300_000;

export interface LossBasedBound {
  /** `currentKbps` is the rate in force; a cut starts from it, not from a bound far above it. */
  onReport(fractionLost: number, currentKbps: number, nowUs: number, rttUs: number): number;
  boundKbps(): number;
  lastLoss(): number | undefined;
}

export function createLossBasedBound(initialKbps: number, maxKbps: number): LossBasedBound {
  let bound = initialKbps;
  let lastDecreaseUs: number | undefined;
  let lastLoss: number | undefined;
  let lowReports = 0;

  return {
    onReport(fractionLost, currentKbps, nowUs, rttUs) {
      const loss = Math.min(1, Math.max(0, fractionLost));
      lastLoss = loss;
      if (loss < LOSS_LOW) {
        lowReports += 1;
        // After a few clean reports loss is no longer what limits us: stop holding the delay-based rate
        // to 5 % a second (it would take half a minute to get back up after a step down and back).
        const floor = lowReports >= CLEAN_REPORTS_TO_LIFT ? currentKbps * LIFT_FACTOR : 0;
        bound = Math.min(maxKbps, Math.max(bound * LOSS_INCREASE, floor));
      } else if (loss > LOSS_HIGH) {
        lowReports = 0;
        const mayCut =
          lastDecreaseUs === undefined || nowUs - lastDecreaseUs >= MIN_DECREASE_INTERVAL_US + rttUs;
        if (mayCut) {
          // From the rate in force: a bound far above it (after a quiet spell) would take many reports to bite.
          bound = Math.min(bound, currentKbps) * (1 - loss / 2);
          lastDecreaseUs = nowUs;
        }
      } else lowReports = 0;
      return bound;
    },
    boundKbps: () => bound,
    lastLoss: () => lastLoss,
  };
}
