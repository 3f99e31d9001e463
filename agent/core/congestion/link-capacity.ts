/**
 * Where the link's capacity was last seen: an average of the delivered rate at each over-use, with its
 * spread. Near it, rate control creeps up (additive) to avoid filling the queue again; far above it, the
 * link must have got better and the estimate is dropped so that rate control can ramp up quickly again;
 * far below it, the link got worse and the old figure is dropped too.
 */

const ALPHA = 0.05;
/** Normalised variance bounds, in kbit/s: keep the band from collapsing to nothing or widening to all. */
const VARIANCE_BOUNDS = { min: 0.4, max: 2.5 } as const;

export interface LinkCapacity {
  onOveruse(deliveredKbps: number): void;
  /** The band within three deviations, or `undefined` when the capacity is not known. */
  band(): { estimateKbps: number; lowerKbps: number; upperKbps: number } | undefined;
  reset(): void;
}

export function createLinkCapacity(): LinkCapacity {
  let estimate: number | undefined;
  let variance: number = VARIANCE_BOUNDS.min;

  return {
    onOveruse(deliveredKbps) {
      estimate = estimate === undefined ? deliveredKbps : (1 - ALPHA) * estimate + ALPHA * deliveredKbps;
      const error = estimate - deliveredKbps;
      variance = (1 - ALPHA) * variance + (ALPHA * error * error) / Math.max(estimate, 1);
      variance = Math.min(VARIANCE_BOUNDS.max, Math.max(VARIANCE_BOUNDS.min, variance));
    },
    band() {
      if (estimate === undefined) return undefined;
      const deviation = Math.sqrt(variance * estimate);
      return {
        estimateKbps: estimate,
        lowerKbps: estimate - 3 * deviation,
        upperKbps: estimate + 3 * deviation,
      };
    },
    reset() {
      estimate = undefined;
      variance = VARIANCE_BOUNDS.min;
    },
  };
}
