import { existsSync } from "node:fs";
import type { Logger } from "pino";
import { ENCODERS } from "../../../pipelines/encoders.js";
import {
  buildFeedPipeline,
  type FeedPipeline,
  type FeedPlan,
  type FeedPorts,
  MODE_NAME,
  modeCaps,
  type VideoSourcePlan,
} from "../../../pipelines/feed-pipeline.js";
import type { FeedStart, MediaFeed, MediaFeedEvents } from "../../app/ports.js";
import { AUDIO_SILENT_AFTER_MS } from "../../core/audio-level.js";
import { SpokeError, toSpokeError } from "../../core/errors.js";
import { idleFeedStatus, type PlannedFeedSettings } from "../../core/feed-plan.js";
import {
  consecutiveFailures,
  DEFAULT_RESTART_POLICY,
  type FeedStatus,
  type RestartPolicy,
  restartPlan,
} from "../../core/feed-status.js";
import { keyframeDelayMs } from "../../core/keyframe-pacing.js";
import { clamp, type Mode } from "../../core/profiles.js";
import { FeedWorkerProcess, type WorkerTimings } from "./feed-worker-process.js";
import type { SourceResolver } from "./source-resolver.js";
import type { WorkerSource } from "./worker-pool.js";
import type { FrameCounts, WorkerStats } from "./worker-protocol.js";

export interface FeedRunnerDeps {
  /** Where workers come from: the agent's pool with its spare. */
  workers: WorkerSource;
  /** [0, 1), for the backoff's jitter. */
  random?: () => number;
  restartPolicy?: RestartPolicy;
  /** Builds the worker's pipeline; tests swap in a source they control. */
  buildPipeline?: (plan: FeedPlan, ports: FeedPorts) => FeedPipeline;
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
  /** The last frame counts a worker reported, for rates; a new worker counts from zero again. */
  private lastFrames: { at: number; counts: FrameCounts } | undefined;
  /** Frames dropped by earlier workers of this session. */
  private droppedBefore = 0;
  /** Counts launches: results of any but the newest are dropped. */
  private launchGeneration = 0;
  /** The degradation step the feed is on (0: its full mode); a restarted worker starts there too. */
  private step = 0;
  /** When the last audio packet arrived (feeds with a microphone). */
  private lastAudioAt: number | undefined;

  constructor(
    private readonly settings: PlannedFeedSettings,
    private readonly sources: SourceResolver,
    private readonly timings: WorkerTimings,
    private readonly events: MediaFeedEvents,
    private readonly log: Logger,
    private readonly deps: FeedRunnerDeps,
  ) {
    this.status = idleFeedStatus(settings);
    if (settings.feed.audio) this.status.audio = { flowing: false, packetsForwarded: 0 };
    this.bitrateKbps = settings.profile.bitrateKbps;
  }

  snapshot(): FeedStatus {
    const snapshot: FeedStatus = { ...this.status, mode: { ...this.status.mode } };
    if (this.status.audio) snapshot.audio = { ...this.status.audio, flowing: this.audioFlows() };
    return snapshot;
  }

  /** Sound flows while its packets arrive and the worker's level meter keeps reporting. */
  private audioFlows(): boolean {
    const recent = this.lastAudioAt !== undefined && Date.now() - this.lastAudioAt <= AUDIO_SILENT_AFTER_MS;
    return recent && this.status.audio?.flowing !== false;
  }

  get workerPid(): number | undefined {
    return this.worker?.pid;
  }

  /**
   * Resolves once the worker runs, or once the first start finds the capture device missing: the feed
   * then waits for it (retrying, and at once when devices change) and comes up when it is plugged in.
   * Any other first-start failure rejects. `onSourceReady` is called once the capture device is known to
   * be there, as the worker is being started: the publication may connect meanwhile.
   */
  async start(onSourceReady?: () => void): Promise<FeedStart> {
    this.setState("starting");
    try {
      await this.launch(false, onSourceReady);
      return "running";
    } catch (error) {
      const failure = toSpokeError(error);
      if (this.stopped || failure.code !== "SPOKE_FEED_SOURCE_MISSING") throw failure;
      this.onWorkerFailure(failure);
      return "waiting";
    }
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

  /**
   * Changes the encoder's target bitrate while it runs (the congestion controller's lever), kept within
   * the feed's floor and ceiling.
   */
  setBitrate(kbps: number): void {
    const { minBitrateKbps, maxBitrateKbps } = this.settings.profile.policy;
    this.bitrateKbps = Math.round(clamp(kbps, minBitrateKbps, maxBitrateKbps));
    this.status.bitrateKbps = this.bitrateKbps;
    this.worker?.setProperties(ENCODERS[this.settings.encoder].bitrate(this.bitrateKbps)).then(
      (outcome) => {
        if (!outcome.ok) this.log.warn({ detail: outcome.detail }, "bitrate change not applied");
      },
      () => undefined, // setProperties answers every outcome; it does not reject
    );
  }

  /**
   * Moves the feed to a step of its degradation ladder without ending anything: the running pipeline's
   * mode caps change, the encoder starts a new sequence at that size and frame rate, and the hub sees a
   * new SPS at the next keyframe. A pipeline that cannot renegotiate in place is restarted at the step.
   */
  async setStep(index: number): Promise<void> {
    const ladder = this.settings.profile.policy.ladder;
    const step = Math.min(Math.max(0, Math.round(index)), ladder.length - 1);
    if (step === this.step) return;
    this.step = step;
    const mode = this.currentMode();
    this.status.step = step;
    this.status.mode = mode;
    // Not running (starting, restarting): the next worker starts at the step.
    const worker = this.worker;
    if (!worker || this.status.state !== "running") return;
    const applied = await worker.setProperties([
      { element: MODE_NAME, property: "caps", value: modeCaps(this.settings.encoder, mode) },
    ]);
    if (applied.ok) {
      this.requestKeyframe();
      return;
    }
    if (this.worker !== worker || this.status.state !== "running") return; // it failed meanwhile
    this.log.warn(
      { detail: applied.detail, step },
      "mode change in place failed; restarting the worker at it",
    );
    this.replaceWorker(worker);
  }

  policy() {
    return this.settings.profile.policy;
  }

  private currentMode(): Mode {
    const rung = this.settings.profile.policy.ladder[this.step];
    return rung
      ? { width: rung.width, height: rung.height, framerate: rung.framerate }
      : { ...this.settings.profile.mode };
  }

  private replaceWorker(worker: FeedWorkerProcess): void {
    if (this.worker !== worker || this.stopped) return;
    this.launchGeneration += 1; // what the old worker still reports is no longer this feed's news
    this.worker = undefined;
    worker.stop().then(
      () => this.restart(),
      () => this.restart(),
    );
  }

  /** The worker's figures into the feed's status: its cost, and frame rates in and out over the interval. */
  private takeStats(stats: WorkerStats): void {
    this.status.workerCpuPercent = stats.cpuPercent;
    this.status.workerMemoryBytes = stats.memoryBytes;
    const now = Date.now();
    const previous = this.lastFrames;
    if (stats.frames) {
      this.lastFrames = { at: now, counts: stats.frames };
      this.status.droppedFrames = this.droppedBefore + stats.frames.dropped;
      if (previous && now > previous.at) {
        const perSecond = (count: number, before: number) =>
          Math.round(((count - before) * 10_000) / (now - previous.at)) / 10;
        this.status.framerateIn = perSecond(stats.frames.in, previous.counts.in);
        this.status.framerateOut = perSecond(stats.frames.out, previous.counts.out);
      }
    }
  }

  /** What the worker runs now: the resolved source at the current step and bitrate. */
  private async plan(): Promise<FeedPlan> {
    const { feed, encoder, profile } = this.settings;
    const source: VideoSourcePlan = await this.sources.resolve(this.settings, profile.mode);
    if (source.type === "v4l2") this.status.source = { device: source.device, format: source.capture.format };
    const plan: FeedPlan = {
      feedId: feed.id,
      source,
      encoder,
      fullMode: profile.mode,
      mode: this.currentMode(),
      bitrateKbps: this.bitrateKbps,
      maxBitrateKbps: profile.policy.maxBitrateKbps,
      keyframeIntervalSeconds: feed.keyframeIntervalSeconds,
    };
    if (feed.audio) plan.audio = feed.audio;
    return plan;
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
  private async launch(replacement = false, onSourceReady?: () => void): Promise<void> {
    // Only the newest launch speaks for the feed: a worker replaced or stopped meanwhile may still fail
    // or come up, and must neither schedule a restart nor stay running.
    const generation = ++this.launchGeneration;
    const current = () => generation === this.launchGeneration && !this.stopped;
    let announceNewEncoder = replacement;
    const plan = await this.plan().catch((error: unknown) => {
      if (current()) throw error;
      return undefined;
    });
    // Stopped while the source was looked up: no worker is forked for a feed that has ended.
    if (!plan || !current()) return;
    assertDevicePresent(plan);
    onSourceReady?.();
    const worker = new FeedWorkerProcess(this.settings.feed.id, this.timings, this.log, this.deps.workers);
    this.worker = worker;
    const announce = (): void => {
      if (!announceNewEncoder) return;
      announceNewEncoder = false;
      this.events.onNewEncoder();
    };
    const audio = this.status.audio;
    const build = this.deps.buildPipeline ?? buildFeedPipeline;
    const started = worker.start((ports) => build(plan, ports), {
      onRtp: (packet) => {
        announce();
        this.status.packetsForwarded += 1;
        this.status.bytesForwarded += packet.length;
        this.events.onPacket(packet);
      },
      ...(audio && {
        onAudioFailure: (error: SpokeError) => {
          if (!current()) return;
          audio.flowing = false;
          audio.lastError = error.toInfo();
          this.log.warn({ error: error.toInfo() }, "microphone failed; the picture goes on without sound");
        },
        onAudioRtp: (packet: Buffer) => {
          announce();
          this.lastAudioAt = Date.now();
          audio.packetsForwarded += 1;
          this.events.onAudioPacket(packet);
        },
      }),
      onFailure: (error) => {
        if (current()) this.onWorkerFailure(error);
      },
      onStats: (stats) => {
        this.takeStats(stats);
        if (audio && stats.audioFlowing !== undefined) audio.flowing = stats.audioFlowing;
        if (audio && stats.audioLevelDb !== undefined) audio.levelDb = stats.audioLevelDb;
      },
    });
    try {
      await started;
    } catch (error) {
      if (current()) throw error;
      return;
    }
    if (!current()) {
      await worker.stop();
      return;
    }
    this.log.info({ pid: worker.pid }, "feed worker running");
    if (audio) delete audio.lastError;
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
    delete this.status.framerateIn;
    delete this.status.framerateOut;
    this.droppedBefore = this.status.droppedFrames ?? 0;
    this.lastFrames = undefined;
    if (this.status.audio) {
      this.status.audio.flowing = false;
      delete this.status.audio.levelDb;
    }
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
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.restart();
    }, delay);
  }

  /**
   * A capture device came or went: a feed waiting to retry (an unplugged camera, in slow retries) tries
   * again now instead of at its next retry, so plugging the device back is all it takes.
   */
  retryNow(): void {
    // A microphone lost while the picture runs comes back with a new worker: a blink of video for sound.
    if (this.status.state === "running" && this.status.audio?.lastError && this.worker) {
      this.log.info("capture devices changed; restarting the worker to take the microphone again");
      this.replaceWorker(this.worker);
      return;
    }
    if (this.stopped || this.restartTimer === undefined) return;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.log.info("capture devices changed; retrying the feed now");
    this.restart();
  }

  private restart(): void {
    if (this.stopped) return;
    this.launch(true).catch((error: unknown) => this.onWorkerFailure(toSpokeError(error)));
  }

  private setState(state: FeedStatus["state"]): void {
    if (this.status.state === state) return;
    this.status.state = state;
    this.events.onStateChange(this.snapshot());
  }
}

/**
 * The device is checked here too, not only in the worker, so that a missing camera is known before the
 * publication connects to the hub (which would otherwise get a session with no picture).
 */
function assertDevicePresent(plan: FeedPlan): void {
  if (plan.source.type !== "v4l2" || existsSync(plan.source.device)) return;
  throw new SpokeError("SPOKE_FEED_SOURCE_MISSING", `capture device ${plan.source.device} does not exist`);
}
