import type { Logger } from "pino";
import type { FeedRole } from "../config/schema.js";
import { allocate, type FeedDemand } from "../core/congestion/index.js";
import { toSpokeError } from "../core/errors.js";
import type { FeedNetworkStatus } from "../core/feed-status.js";
import type { DegradationPolicy } from "../core/profiles.js";
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
}

export class BitrateSteering {
  private stopTimer: (() => void) | undefined;
  private readonly applied = new Map<string, FeedNetworkStatus>();
  private readonly timer: SteeringTimer;

  constructor(
    private readonly feeds: readonly SteeredFeed[],
    private readonly options: SteeringOptions,
    private readonly log: Logger,
  ) {
    this.timer = options.timer ?? realTimer;
  }

  start(): void {
    if (this.stopTimer) return;
    this.stopTimer = this.timer.every(this.options.intervalMs ?? STEERING_INTERVAL_MS, () => this.tick());
  }

  stop(): void {
    this.stopTimer?.();
    this.stopTimer = undefined;
    this.applied.clear();
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
    const demands: FeedDemand[] = live.map(({ steered }) => ({
      id: steered.id,
      role: steered.role,
      policy: steered.policy,
      step: steered.feed.snapshot().step,
    }));
    const shares = allocate(total, demands, this.options.siteBudgetKbps);
    live.forEach(({ steered, network }, index) => {
      const share = shares[index];
      if (!share) return;
      const before = this.applied.get(steered.id);
      const drive = this.options.drive ?? true;
      if (drive && before?.targetKbps !== share.bitrateKbps) steered.feed.setBitrate(share.bitrateKbps);
      if (drive && share.step !== demands[index]?.step) {
        this.log.info(
          { feed: steered.id, step: share.step, kbps: share.bitrateKbps },
          "network: degradation step",
        );
        steered.feed.setStep(share.step).catch((error: unknown) => {
          this.log.warn({ feed: steered.id, error: toSpokeError(error).toInfo() }, "step change failed");
        });
      }
      const status: FeedNetworkStatus = {
        estimateKbps: network.estimateKbps,
        targetKbps: share.bitrateKbps,
        step: share.step,
      };
      Object.assign(status, linkFigures(network));
      this.applied.set(steered.id, status);
      this.log.debug({ feed: steered.id, ...status }, "network steering");
    });
  }
}

/** What health shows of the publication's link beside the estimate: only the figures it has. */
function linkFigures(network: PublicationNetwork): Partial<FeedNetworkStatus> {
  const { rttMs, lossPercent, jitterMs, sentKbps, requests, ice } = network;
  const figures: Partial<FeedNetworkStatus> = {};
  if (rttMs !== undefined) figures.rttMs = rttMs;
  if (lossPercent !== undefined) figures.lossPercent = lossPercent;
  if (jitterMs !== undefined) figures.jitterMs = jitterMs;
  if (sentKbps !== undefined) figures.sentKbps = sentKbps;
  if (requests) figures.requests = requests;
  if (ice) figures.ice = ice;
  return figures;
}
