import type { Logger } from "pino";
import { type ErrorInfo, SpokeError, toSpokeError } from "../core/errors.js";
import type { PlannedFeedSettings } from "../core/feed-plan.js";
import type { FeedLinkStatus } from "../core/feed-status.js";
import {
  type HubLinkState,
  LivenessDetector,
  type LossReason,
  planRecovery,
  planStartRetry,
  RECOVERY_IDLE,
  type RecoveryEvent,
  type RecoveryState,
  type RecoveryStep,
} from "../core/hub-link.js";
import type { WhipFailure } from "../core/whip/retry.js";
import type {
  IceRestartResult,
  PublicationNetwork,
  Publisher,
  PublisherEvents,
  PublisherFactory,
} from "./ports.js";

/** How often the liveness of the link is looked at. */
const LIVENESS_TICK_MS = 250;
/** An ICE restart's PATCH that takes longer than this is given up (the hub is likely gone). */
const ICE_RESTART_ANSWER_MS = 3000;

/** Time and timers, injectable so that tests drive them. */
export interface ConnectionClock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: ConnectionClock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface FeedConnectionOptions {
  clock?: ConnectionClock;
  random?: () => number;
  /** Tells the WHIP failure behind an error (status, Retry-After), for the retry plans. */
  failureOf?: (error: unknown) => WhipFailure | undefined;
}

export interface FeedConnectionEvents extends PublisherEvents {
  /** The link's state or reconnect count changed. */
  onLinkChange(link: FeedLinkStatus): void;
}

/**
 * One feed's publication that survives its hub: a `Publisher` made of a succession of real ones. It
 * watches the hub's RTCP (LivenessDetector) and, when the hub goes silent or ICE fails, climbs the
 * recovery ladder (planRecovery): ICE restart on the same WHIP session, else a new peer and a new POST
 * (the old resource DELETEd), retried with backoff while the hub is down, for as long as the session
 * lasts; a keyframe is asked for as soon as media flows again. `close()` is the one teardown path: it
 * cancels the timers and any attempt under way and waits until every peer it made is closed.
 */
export class FeedConnection implements Publisher {
  private readonly clock: ConnectionClock;
  private readonly random: () => number;
  private readonly liveness = new LivenessDetector();
  /** The publisher media goes to; undefined while a new session is being made. */
  private active: Publisher | undefined;
  /** Every publisher made and not yet fully closed (the active one, one connecting, ones closing). */
  private readonly owned = new Set<Publisher>();
  private readonly closing = new Set<Promise<void>>();
  private recovery: RecoveryState = RECOVERY_IDLE;
  private state: HubLinkState = "connecting";
  private reconnects = 0;
  private lastError: ErrorInfo | undefined;
  private closed = false;
  private tick: unknown;
  /** Wakes a wait early when the connection closes. */
  private readonly waits = new Set<{ handle: unknown; resolve: () => void }>();

  constructor(
    private readonly settings: PlannedFeedSettings,
    private readonly events: FeedConnectionEvents,
    private readonly log: Logger,
    private readonly createPublisher: PublisherFactory,
    private readonly options: FeedConnectionOptions = {},
  ) {
    this.clock = options.clock ?? realClock;
    this.random = options.random ?? Math.random;
  }

  link(): FeedLinkStatus {
    const link: FeedLinkStatus = { state: this.state, reconnects: this.reconnects };
    if (this.lastError && this.state !== "connected") link.lastError = this.lastError;
    return link;
  }

  /**
   * The first connection. A hub that is starting up (5xx, `Retry-After`, unreachable for a moment) is
   * waited for a while (planStartRetry); anything else fails the start with its error.
   */
  async connect(): Promise<void> {
    const startedAt = this.clock.now();
    for (let attempt = 0; ; attempt += 1) {
      const publisher = this.newPublisher();
      try {
        await publisher.connect();
        if (this.closed) throw new SpokeError("SPOKE_WEBRTC_FAILED", "publication closed while connecting");
        this.activate(publisher);
        return;
      } catch (error) {
        this.retire(publisher);
        const waited = this.clock.now() - startedAt;
        const delayMs = planStartRetry(this.failureOf(error), attempt, waited, this.random);
        if (delayMs === undefined || this.closed) throw error;
        this.log.warn(
          { delayMs, error: toSpokeError(error).toInfo() },
          "WHIP session not made yet; retrying",
        );
        await this.wait(delayMs);
        if (this.closed) throw error;
      }
    }
  }

  writeRtp(packet: Buffer): void {
    const publisher = this.active;
    if (!publisher) return;
    publisher.writeRtp(packet);
    // Video held back until the first keyframe was not sent: the hub has nothing to report on yet.
    if (!publisher.holdingVideo?.()) this.liveness.mediaSent(this.clock.now());
  }

  writeAudioRtp(packet: Buffer): void {
    this.active?.writeAudioRtp(packet);
  }

  markDiscontinuity(): void {
    this.active?.markDiscontinuity();
  }

  restartIce(): Promise<IceRestartResult> {
    if (!this.active)
      return Promise.reject(new SpokeError("SPOKE_WEBRTC_FAILED", "no WHIP session to restart"));
    return this.active.restartIce();
  }

  network(): PublicationNetwork | undefined {
    return this.active?.network?.();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.tick !== undefined) this.clock.clearTimeout(this.tick);
    this.tick = undefined;
    for (const wait of this.waits) {
      this.clock.clearTimeout(wait.handle);
      wait.resolve();
    }
    this.waits.clear();
    this.active = undefined;
    for (const publisher of this.owned) this.retire(publisher);
    await Promise.allSettled([...this.closing]);
  }

  /** Publishers made and not yet closed: the active one, one connecting, ones whose DELETE is under way. */
  get openPublishers(): number {
    return this.owned.size;
  }

  private newPublisher(): Publisher {
    let publisher: Publisher | undefined;
    const mine = () => publisher !== undefined && publisher === this.active;
    const events: PublisherEvents = {
      onKeyframeRequest: () => {
        if (mine()) this.events.onKeyframeRequest();
      },
      onConnectionLost: (error) => {
        if (!mine()) return;
        this.lastError = error.toInfo();
        this.liveness.closed();
        this.check();
      },
      onRtcp: () => {
        if (mine()) this.liveness.rtcp(this.clock.now());
      },
      onIceStateChange: (state) => {
        if (!mine()) return;
        this.liveness.iceState(state, this.clock.now());
        if (state === "failed") this.check();
      },
    };
    publisher = this.createPublisher(this.settings, events, this.log);
    this.owned.add(publisher);
    return publisher;
  }

  /** Closes a publisher in the background (WHIP DELETE, bounded by the client's timeout, then the peer). */
  private retire(publisher: Publisher): void {
    if (this.active === publisher) this.active = undefined;
    if (!this.owned.delete(publisher)) return;
    const closing: Promise<void> = publisher
      .close()
      .catch((error: unknown) => {
        this.log.warn({ error: toSpokeError(error).toInfo() }, "closing a replaced WHIP session failed");
      })
      .then(() => {
        this.closing.delete(closing);
      });
    this.closing.add(closing);
  }

  private activate(publisher: Publisher): void {
    this.active = publisher;
    this.liveness.reset();
    this.setState("connected");
    this.scheduleTick();
  }

  private scheduleTick(): void {
    if (this.closed || this.tick !== undefined) return;
    this.tick = this.clock.setTimeout(() => {
      this.tick = undefined;
      this.check();
      if (this.state === "connected") this.scheduleTick();
    }, LIVENESS_TICK_MS);
  }

  /** Looks at the link; a lost one starts the recovery ladder (once: the ladder runs to its end). */
  private check(): void {
    if (this.closed || this.state !== "connected" || this.recovery.phase !== "idle") return;
    const verdict = this.liveness.verdict(this.clock.now());
    if (verdict.alive) return;
    this.recover(verdict.reason).catch((error: unknown) => {
      this.log.error({ error: toSpokeError(error).toInfo() }, "reconnection stopped on an unexpected error");
    });
  }

  private async recover(reason: LossReason): Promise<void> {
    this.reconnects += 1;
    this.log.warn({ reason, reconnects: this.reconnects }, "lost the hub; reconnecting");
    this.setState("reconnecting");
    let step = this.plan({ kind: "lost", reason });
    while (!this.closed) {
      const outcome = await this.take(step);
      if (outcome === "recovered" || this.closed) break;
      step = this.plan(outcome);
    }
    if (this.closed) return;
    this.plan({ kind: "recovered" });
    this.lastError = undefined;
    this.log.info({ reconnects: this.reconnects }, "media flows to the hub again");
    // The hub's decoder has nothing to start from: a keyframe now, not at the next periodic one.
    this.events.onKeyframeRequest();
  }

  private plan(event: RecoveryEvent): RecoveryStep {
    const { state, step } = planRecovery(this.recovery, event, this.random);
    this.recovery = state;
    return step;
  }

  private async take(step: RecoveryStep): Promise<RecoveryEvent | "recovered"> {
    if (step.kind === "restartIce") return this.tryIceRestart(step.mediaTimeoutMs);
    if (step.kind === "newSession") return this.tryNewSession(step);
    return "recovered";
  }

  private async tryIceRestart(mediaTimeoutMs: number): Promise<RecoveryEvent | "recovered"> {
    const publisher = this.active;
    if (!publisher) return { kind: "iceRestartFailed" };
    const restartedAt = this.clock.now();
    const result = await this.within(publisher.restartIce(), ICE_RESTART_ANSWER_MS).catch(
      (error: unknown) => {
        this.lastError = toSpokeError(error).toInfo();
        return "failed" as const;
      },
    );
    if (result === "unsupported") return { kind: "iceRestartUnsupported" };
    if (result !== "restarted") return { kind: "iceRestartFailed" };
    this.liveness.reset();
    const deadline = restartedAt + mediaTimeoutMs;
    while (!this.closed && this.clock.now() < deadline) {
      if ((this.liveness.lastRtcpAt ?? Number.NEGATIVE_INFINITY) > restartedAt) {
        // What the restart's own transitions left behind says nothing of the link now.
        this.liveness.reset();
        this.setState("connected");
        this.scheduleTick();
        return "recovered";
      }
      await this.wait(LIVENESS_TICK_MS);
    }
    return { kind: "iceRestartFailed" };
  }

  private async tryNewSession(
    step: Extract<RecoveryStep, { kind: "newSession" }>,
  ): Promise<RecoveryEvent | "recovered"> {
    if (this.active) this.retire(this.active);
    this.setState(step.waitingForHub ? "waiting-for-hub" : "reconnecting");
    if (step.delayMs > 0) {
      this.log.info({ delayMs: step.delayMs, reason: step.reason }, "new WHIP session after a wait");
      await this.wait(step.delayMs);
    }
    if (this.closed) return "recovered";
    const publisher = this.newPublisher();
    try {
      await publisher.connect();
    } catch (error) {
      this.retire(publisher);
      this.lastError = toSpokeError(error).toInfo();
      const failure = this.failureOf(error);
      return failure ? { kind: "sessionFailed", failure } : { kind: "sessionFailed" };
    }
    if (this.closed) {
      this.retire(publisher);
      return "recovered";
    }
    this.activate(publisher);
    return "recovered";
  }

  private setState(state: HubLinkState): void {
    if (this.state === state) return;
    this.state = state;
    this.events.onLinkChange(this.link());
  }

  private failureOf(error: unknown): WhipFailure | undefined {
    return this.options.failureOf?.(error);
  }

  /** Resolves after `ms`, or at once when the connection closes. */
  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = { handle: undefined as unknown, resolve };
      entry.handle = this.clock.setTimeout(() => {
        this.waits.delete(entry);
        resolve();
      }, ms);
      this.waits.add(entry);
    });
  }

  /** The promise's outcome, or "timeout" after `ms` (or at once when the connection closes). */
  private within<T>(promise: Promise<T>, ms: number): Promise<T | "timeout"> {
    return Promise.race([promise, this.wait(ms).then(() => "timeout" as const)]);
  }
}
