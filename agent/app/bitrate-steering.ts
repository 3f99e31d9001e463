import type { Logger } from "pino";
import type { FeedRole } from "../config/schema.js";
import {
  allocate,
  createOvershootGuard,
  createStepHold,
  type FeedDemand,
  type OvershootGuard,
  type StepHold,
} from "../core/congestion/index.js";
import { toSpokeError } from "../core/errors.js";
import type { FeedNetworkStatus, LinkFigures } from "../core/feed-status.js";
import { climbRung, type DegradationPolicy } from "../core/profiles.js";
import type { MediaFeed, PublicationNetwork } from "./ports.js";

/**
 * Drives the encoders from congestion control while a session is live: once a second, every
 * publication's estimate is summed, shared among the site's feeds by clinical priority (and the site
 * budget, when configured) with `allocate`, and each share becomes its feed's encoder bitrate and
 * degradation step.
 *
 * Why the sum: each feed has its own peer connection and estimate, but on a spoke site they usually
 * share one uplink, so what one feed's path carries is what the site has; sharing by priority lets the
 * ultrasound keep its picture while the document camera gives up frame rate.
 *
 * While driving, each feed's measured sent rate is held against the share its encoder was given: an
 * encoder that stays well above it (software x264 on noisy content) is held one rung lower until its
 * output fits again (core/congestion/encoder-overshoot.ts).
 *
 * A share that buys a better rung only moves the feed up once it has bought it for a hold time
 * (core/congestion/step-hold.ts); a share that no longer covers the rung moves it down at once.
 */

export const STEERING_INTERVAL_MS = 1000;

/** setInterval and clearInterval, injectable so tests drive time themselves. */
export interface SteeringTimer {
  every(ms: number, tick: () => void): () => void;
}

export const realTimer: SteeringTimer = {
  every(ms, tick) {
    const handle = setInterval(tick, ms);
    return () => clearInterval(handle);
  },
};

export interface SteeredFeed {
  id: string;
  role: FeedRole;
  policy: DegradationPolicy;
  feed: MediaFeed;
  /** The publication's network now; undefined while it has none (not connected yet). */
  network(): PublicationNetwork | undefined;
}

export interface SteeringOptions {
  siteBudgetKbps?: number;
  /**
   * Apply the shares to the encoders. Off, steering only computes and reports them (health's
   * `network`): the agent runs it so until the bottleneck bench (Chromium receiving) has shown the
   * goals met on an unloaded machine (docs/webrtc.md, "Not done yet").
   */
  drive?: boolean;
  timer?: SteeringTimer;
  intervalMs?: number;
  /** Milliseconds on a monotonic clock, for the overshoot guard; `performance.now()` by default. */
  nowMs?: () => number;
}

export class BitrateSteering {
  private stopTimer: (() => void) | undefined;
  private readonly applied = new Map<string, FeedNetworkStatus>();
  private readonly guards = new Map<string, OvershootGuard>();
  private readonly holds = new Map<string, StepHold>();
  private readonly timer: SteeringTimer;
  private readonly nowMs: () => number;

  constructor(
    private readonly feeds: readonly SteeredFeed[],
    private readonly options: SteeringOptions,
    private readonly log: Logger,
  ) {
    this.timer = options.timer ?? realTimer;
    this.nowMs = options.nowMs ?? (() => performance.now());
  }

  start(): void {
    if (this.stopTimer) return;
    this.stopTimer = this.timer.every(this.options.intervalMs ?? STEERING_INTERVAL_MS, () => this.tick());
  }

  stop(): void {
    this.stopTimer?.();
    this.stopTimer = undefined;
    this.applied.clear();
    this.guards.clear();
    this.holds.clear();
  }

  /** What steering last gave a feed, for its health; undefined when it has not steered it. */
  networkOf(feedId: string): FeedNetworkStatus | undefined {
    return this.applied.get(feedId);
  }

  /** One round: estimates in, bitrates and steps out. Feeds without a publication yet are left alone. */
  tick(): void {
    const live = this.feeds.flatMap((steered) => {
      const network = steered.network();
      return network ? [{ steered, network }] : [];
    });
    if (live.length === 0) return;
    const total = live.reduce((sum, { network }) => sum + network.estimateKbps, 0);
    const drive = this.options.drive ?? true;
    const nowMs = this.nowMs();
    const demands: FeedDemand[] = live.map(({ steered, network }) => {
      const demand: FeedDemand = {
        id: steered.id,
        role: steered.role,
        policy: steered.policy,
        step: steered.feed.snapshot().step,
      };
      // Only a driven encoder is expected to keep to its share.
      if (drive) {
        const bestStep = this.overshootLimit(steered, network, demand.step, nowMs);
        if (bestStep > 0) demand.bestStep = bestStep;
      }
      return demand;
    });
    const shares = allocate(total, demands, this.options.siteBudgetKbps);
    live.forEach(({ steered, network }, index) => {
      const share = shares[index];
      const demand = demands[index];
      if (!share || !demand) return;
      const step = this.heldStep(steered, demand, share.bitrateKbps, share.step, nowMs);
      const before = this.applied.get(steered.id);
      if (drive && before?.targetKbps !== share.bitrateKbps) steered.feed.setBitrate(share.bitrateKbps);
      if (drive && step !== demand.step) {
        this.log.info({ feed: steered.id, step, kbps: share.bitrateKbps }, "network: degradation step");
        steered.feed.setStep(step).catch((error: unknown) => {
          this.log.warn({ feed: steered.id, error: toSpokeError(error).toInfo() }, "step change failed");
        });
      }
      const status: FeedNetworkStatus = {
        estimateKbps: network.estimateKbps,
        targetKbps: share.bitrateKbps,
        step,
      };
      Object.assign(status, linkFigures(network));
      const bestStep = demand.bestStep;
      if (bestStep !== undefined) status.overshootStep = bestStep;
      this.applied.set(steered.id, status);
      this.log.debug({ feed: steered.id, ...status }, "network steering");
    });
  }

  /** The step to take: `next` when it is a step down, a better one only once the share has held it. */
  private heldStep(
    steered: SteeredFeed,
    demand: FeedDemand,
    shareKbps: number,
    next: number,
    nowMs: number,
  ): number {
    const hold = perFeed(this.holds, steered.id, createStepHold);
    const supported = climbRung(steered.policy, demand.step, shareKbps, demand.bestStep);
    return hold.update({ nowMs, current: demand.step, next, supported });
  }

  /** The best step the feed's encoder has shown it can keep to, from its sent rate against its last share. */
  private overshootLimit(
    steered: SteeredFeed,
    network: PublicationNetwork,
    step: number,
    nowMs: number,
  ): number {
    const guard = perFeed(this.guards, steered.id, createOvershootGuard);
    const before = guard.bestAllowed();
    const best = guard.update({
      nowMs,
      sentKbps: network.sentKbps,
      shareKbps: this.applied.get(steered.id)?.targetKbps ?? 0,
      step,
      lastStep: steered.policy.ladder.length - 1,
    });
    if (best > before) {
      this.log.info(
        {
          feed: steered.id,
          sentKbps: network.sentKbps,
          targetKbps: this.applied.get(steered.id)?.targetKbps,
          bestStep: best,
        },
        "network: the encoder overshoots its share; holding a lower step",
      );
    }
    return best;
  }
}

/** A feed's own state in `states`, made on first use. */
function perFeed<T>(states: Map<string, T>, feedId: string, create: () => T): T {
  let state = states.get(feedId);
  if (state === undefined) {
    state = create();
    states.set(feedId, state);
  }
  return state;
}

/** What health shows of the publication's link beside the estimate: only the figures it has. */
function linkFigures(network: PublicationNetwork): LinkFigures {
  const { rttMs, lossPercent, jitterMs, sentKbps, requests, ice } = network;
  const figures: LinkFigures = {};
  if (rttMs !== undefined) figures.rttMs = rttMs;
  if (lossPercent !== undefined) figures.lossPercent = lossPercent;
  if (jitterMs !== undefined) figures.jitterMs = jitterMs;
  if (sentKbps !== undefined) figures.sentKbps = sentKbps;
  if (requests) figures.requests = requests;
  if (ice) figures.ice = ice;
  return figures;
}
