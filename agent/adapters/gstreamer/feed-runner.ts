import type { Logger } from "pino";
import { buildFeedPipeline, type FeedPipeline } from "../../../pipelines/feed-pipeline.js";
import type { MediaFeed, MediaFeedEvents } from "../../app/ports.js";
import type { FeedConfig } from "../../config/schema.js";
import type { SpokeError } from "../../core/errors.js";
import {
  consecutiveFailures,
  DEFAULT_RESTART_POLICY,
  type FeedStatus,
  type RestartPolicy,
  restartPlan,
} from "../../core/feed-status.js";
import { keyframeDelayMs } from "../../core/keyframe-pacing.js";
import { FeedWorkerProcess, type WorkerTimings } from "./feed-worker-process.js";
import type { WorkerSource } from "./worker-pool.js";

export interface FeedRunnerDeps {
  /** Where workers come from: the agent's pool with its spare. */
  workers: WorkerSource;
  /** [0, 1), for the backoff's jitter. */
  random?: () => number;
  restartPolicy?: RestartPolicy;
  /** Builds the worker's pipeline; tests swap in a source they control. */
  buildPipeline?: (feed: FeedConfig, rtpPort: number) => FeedPipeline;
}

/**
 * Keeps one feed's worker running for the length of a session: the first start must succeed (or the
 * session start fails); after that a dead, stalled or leaking worker is reported and restarted, at once
 * the first time (from the pool's spare), then with jittered backoff, then slowly (see `restartPlan`).
 */
export class FeedRunner implements MediaFeed {
  private worker: FeedWorkerProcess | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private runningSince: number | undefined;
  private failuresInARow = 0;
  private lastKeyframeForcedAt: number | undefined;
  private keyframeTimer: NodeJS.Timeout | undefined;
  private readonly status: FeedStatus;
  /** The encoder's current target; a restarted worker starts at it, not at the configured one. */
  private bitrateKbps: number;

  constructor(
    private readonly feed: FeedConfig,
    private readonly timings: WorkerTimings,
    private readonly events: MediaFeedEvents,
    private readonly log: Logger,
    private readonly deps: FeedRunnerDeps,
  ) {
    this.status = { id: feed.id, state: "stopped", restarts: 0, packetsForwarded: 0, bytesForwarded: 0 };
    this.bitrateKbps = feed.bitrateKbps;
  }

  snapshot(): FeedStatus {
    return { ...this.status };
  }

  get workerPid(): number | undefined {
    return this.worker?.pid;
  }

  async start(): Promise<void> {
    this.setState("starting");
    await this.launch();
  }

  /** Asks the encoder for a keyframe, paced: a burst of requests forces one now and at most one later. */
  requestKeyframe(): void {
    if (this.keyframeTimer) return; // one is already scheduled, and answers this request too
    const delay = keyframeDelayMs(this.lastKeyframeForcedAt, Date.now());
    if (delay === 0) {
      this.forceKeyframe();
      return;
    }
    this.keyframeTimer = setTimeout(() => {
      this.keyframeTimer = undefined;
      this.forceKeyframe();
    }, delay);
  }

  private forceKeyframe(): void {
    this.lastKeyframeForcedAt = Date.now();
    this.worker?.requestKeyframe();
  }

  /** Changes the encoder's target bitrate while it runs (the congestion controller's lever). */
  setBitrate(kbps: number): void {
    this.bitrateKbps = kbps;
    this.worker?.setBitrate(kbps);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    clearTimeout(this.keyframeTimer);
    await this.worker?.stop();
    this.worker = undefined;
    this.setState("stopped");
  }

  /** Starts a worker; a replacement's first packet is announced as coming from a new encoder. */
  private async launch(replacement = false): Promise<void> {
    let announceNewEncoder = replacement;
    const worker = new FeedWorkerProcess(this.feed.id, this.timings, this.log, this.deps.workers);
    this.worker = worker;
    const build = this.deps.buildPipeline ?? buildFeedPipeline;
    await worker.start((port) => build({ ...this.feed, bitrateKbps: this.bitrateKbps }, port), {
      onRtp: (packet) => {
        if (announceNewEncoder) {
          announceNewEncoder = false;
          this.events.onNewEncoder();
        }
        this.status.packetsForwarded += 1;
        this.status.bytesForwarded += packet.length;
        this.events.onPacket(packet);
      },
      onFailure: (error) => this.onWorkerFailure(error),
      onStats: (stats) => {
        this.status.workerCpuPercent = stats.cpuPercent;
        this.status.workerMemoryBytes = stats.memoryBytes;
      },
    });
    if (this.stopped) {
      await worker.stop();
      return;
    }
    this.log.info({ pid: worker.pid }, "feed worker running");
    this.runningSince = Date.now();
    delete this.status.retryingSlowly;
    delete this.status.nextRetryInMs;
    this.setState("running");
  }

  private onWorkerFailure(error: SpokeError): void {
    // A worker stopped on purpose while restarting rejects its start: that is not a failure.
    if (this.stopped) return;
    const ranForMs = this.runningSince === undefined ? undefined : Date.now() - this.runningSince;
    this.runningSince = undefined;
    this.failuresInARow = consecutiveFailures(this.failuresInARow, ranForMs);
    this.status.lastError = error.toInfo();
    delete this.status.workerCpuPercent;
    delete this.status.workerMemoryBytes;
    this.status.restarts += 1;
    const plan = restartPlan(
      this.failuresInARow,
      this.deps.random ?? Math.random,
      this.deps.restartPolicy ?? DEFAULT_RESTART_POLICY,
    );
    const delay = plan.delayMs;
    this.status.retryingSlowly = plan.slowly;
    this.status.nextRetryInMs = delay;
    this.log.warn(
      { error: error.toInfo(), failuresInARow: this.failuresInARow, retryInMs: delay, slowly: plan.slowly },
      "feed worker failed; restarting",
    );
    this.setState("restarting");
    this.events.onFailure(error);
    this.restartTimer = setTimeout(() => this.restart(), delay);
  }

  private restart(): void {
    if (this.stopped) return;
    this.launch(true).catch((error: SpokeError) => this.onWorkerFailure(error));
  }

  private setState(state: FeedStatus["state"]): void {
    if (this.status.state === state) return;
    this.status.state = state;
    this.events.onStateChange(this.snapshot());
  }
}
