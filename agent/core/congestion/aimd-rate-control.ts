import { createLinkCapacity } from "./link-capacity.js";
import type { BandwidthUsage } from "./overuse-detector.js";

/**
 * The delay-based rate (GCC §5.5): additive increase near the known capacity, multiplicative far from
 * it, a cut to β × what was delivered on over-use, hold while the queue drains (under-use).
 *
 * Probing: until the first over-use, and again whenever the delivered rate has climbed clearly above the
 * capacity we knew (the link got better), the rate may grow by ×1.5 per probe interval instead of GCC's
 * 8 % per second: a feed starts at a conservative rate and must reach the link's rate in seconds, not
 * half a minute. We cannot send padding probes (media is passed through from the encoder), so the probe
 * is the encoder's own bitrate; the cap at 1.5 × delivered keeps it from running ahead of a link that
 * does not follow.
 *
 * Application-limited (the encoder sends clearly less than the rate, see application-limited.ts): the
 * cap at 1.5 × delivered would hold the rate at what the picture needs now, so instead the rate rises
 * by 25 % a second towards the feed's profile bitrate while no over-use is seen.
 */

export const BETA = 0.85;
export const MULTIPLICATIVE_GROWTH_PER_S = 1.08;
export const PROBE_GROWTH = 1.5;
export const MIN_PROBE_INTERVAL_US = 400_000;
export const ALR_GROWTH_PER_S = 1.25;
/** The rate may not run further ahead of what was delivered than this (plus 10 kbit/s). */
const MAX_AHEAD_OF_DELIVERED = 1.5;
const AHEAD_SLACK_KBPS = 10;
/** Assumed for the size of the additive step: one packet per frame at 30 fps, 1200-byte packets. */
const FRAMES_PER_S = 30;
const PACKET_BITS = 1200 * 8;
const MIN_ADDITIVE_KBPS_PER_S = 4;
/** Added to the RTT for the additive step's response time: the detector needs that long to see a queue. */
const DETECTION_DELAY_US = 100_000;

export type RateControlState = "hold" | "increase" | "decrease";

export interface AimdOptions {
  startKbps: number;
  minKbps: number;
  maxKbps: number;
  /** Where an application-limited rise stops (the feed's profile bitrate); `maxKbps` when not given. */
  alrCeilingKbps?: number;
}

export interface AimdUpdate {
  usage: BandwidthUsage;
  /** Delivered rate from the feedback, if known yet. */
  deliveredKbps: number | undefined;
  nowUs: number;
  rttUs: number;
  /** The encoder sends clearly less than the rate, with no loss seen: see application-limited.ts. */
  applicationLimited?: boolean;
}

export interface AimdRateControl {
  update(input: AimdUpdate): number;
  rateKbps(): number;
  state(): RateControlState;
  probing(): boolean;
  /** Lowers the ceiling for a while (REMB); the rate is never raised by it. */
  setCap(capKbps: number): void;
}

export function createAimdRateControl(options: AimdOptions): AimdRateControl {
  const capacity = createLinkCapacity();
  let rate = clamp(options.startKbps, options.minKbps, options.maxKbps);
  let cap = options.maxKbps;
  let state: RateControlState = "hold";
  let probing = true;
  let lastUpdateUs: number | undefined;
  let lastDecreaseUs: number | undefined;

  const additiveKbpsPerS = (rttUs: number) => {
    const bitsPerFrame = (rate * 1000) / FRAMES_PER_S;
    const packetsPerFrame = Math.max(1, Math.ceil(bitsPerFrame / PACKET_BITS));
    const packetBits = bitsPerFrame / packetsPerFrame;
    const responseS = (rttUs + DETECTION_DELAY_US) / 1e6;
    return Math.max(MIN_ADDITIVE_KBPS_PER_S, packetBits / responseS / 1000);
  };

  const mayReduce = (nowUs: number, rttUs: number, deliveredKbps: number | undefined) => {
    if (lastDecreaseUs === undefined) return true;
    // Once per RTT (10–200 ms): a queue takes an RTT to show that the last cut worked.
    const interval = Math.min(Math.max(rttUs, 10_000), 200_000);
    if (nowUs - lastDecreaseUs >= interval) return true;
    return deliveredKbps !== undefined && deliveredKbps < rate / 2;
  };

  return {
    update({ usage, deliveredKbps, nowUs, rttUs, applicationLimited }) {
      const dtS =
        lastUpdateUs === undefined ? 0 : Math.min(Math.max(0, nowUs - lastUpdateUs), 1_000_000) / 1e6;
      lastUpdateUs = nowUs;

      if (usage === "overusing") state = "decrease";
      else if (usage === "underusing") state = "hold";
      else if (state === "hold") state = "increase";

      const band = capacity.band();
      if (deliveredKbps !== undefined && band && deliveredKbps > band.upperKbps) {
        // Delivering well above what the link used to carry: it got better; find out how much.
        capacity.reset();
        probing = true;
      }

      const alrCeiling = Math.min(options.alrCeilingKbps ?? options.maxKbps, options.maxKbps);
      if (state === "increase" && applicationLimited) {
        // Nothing to learn from what was delivered: rise slowly towards what the feed would want.
        if (rate < alrCeiling) rate = Math.min(alrCeiling, rate * ALR_GROWTH_PER_S ** dtS);
      } else if (state === "increase") {
        let next = rate;
        if (probing) {
          const interval = Math.max(MIN_PROBE_INTERVAL_US, 2 * rttUs) / 1e6;
          next = rate * PROBE_GROWTH ** (dtS / interval);
        } else if (capacity.band()) {
          next = rate + additiveKbpsPerS(rttUs) * dtS;
        } else {
          next = rate + Math.max(1, rate * (MULTIPLICATIVE_GROWTH_PER_S ** dtS - 1));
        }
        if (deliveredKbps !== undefined) {
          const allowed = MAX_AHEAD_OF_DELIVERED * deliveredKbps + AHEAD_SLACK_KBPS;
          if (next > allowed) next = Math.max(rate, allowed);
        }
        rate = next;
      } else if (state === "decrease") {
        if (mayReduce(nowUs, rttUs, deliveredKbps)) {
          const delivered = deliveredKbps ?? rate;
          const knownBand = capacity.band();
          if (knownBand && delivered < knownBand.lowerKbps) capacity.reset();
          let next = BETA * delivered;
          // Delivered above our rate (a burst arriving late): cut from the capacity, never upwards.
          const after = capacity.band();
          if (next > rate && after) next = BETA * after.estimateKbps;
          rate = Math.min(rate, next);
          capacity.onOveruse(delivered);
          lastDecreaseUs = nowUs;
          probing = false;
        }
        state = "hold";
      }
      rate = clamp(rate, options.minKbps, Math.min(options.maxKbps, cap));
      return rate;
    },
    rateKbps: () => rate,
    state: () => state,
    probing: () => probing,
    setCap(capKbps) {
      cap = Math.max(options.minKbps, capKbps);
      rate = Math.min(rate, Math.max(options.minKbps, cap));
    },
  };
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
