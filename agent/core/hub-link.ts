import { assertNever } from "./errors.js";
import { type RetryDecision, type WhipFailure, whipRetryPlan } from "./whip/retry.js";

/**
 * A feed's link to its hub: noticing that the hub went silent (liveness) and planning the way back
 * (recovery). Pure: times are passed in (milliseconds on a monotonic clock), the random source is
 * injected, and the driver (`agent/app/feed-connection.ts`) does the I/O.
 */

/** What health shows of a feed's link to the hub. */
export type HubLinkState = "connecting" | "connected" | "reconnecting" | "waiting-for-hub";

/** No RTCP from the hub for this long while media is sent: the hub is gone (werift's consent check takes 30 s). */
export const HUB_SILENCE_MS = 2000;
/** ICE `disconnected` is given this long to come back by itself before the link counts as lost. */
export const ICE_DISCONNECTED_GRACE_MS = 1000;
/** A pause in sending longer than this restarts the silence count: a hub need not report on nothing. */
export const SENDING_GAP_MS = 500;
/**
 * A hub whose RTCP comes less often than every second (RFC 3550 allows 5 s, randomised to 7.5 s) is
 * given twice the longest gap it has shown between reports, up to this: its quiet between two reports
 * is no lost hub, and a reconnection loop would be worse than a slower notice.
 */
export const MAX_HUB_SILENCE_MS = 15_000;
/** How many of the hub's recent gaps between reports set its own silence limit. */
const CADENCE_SAMPLES = 8;

export type LossReason = "silence" | "ice-disconnected" | "ice-failed" | "closed";

export type LivenessVerdict = { alive: true } | { alive: false; reason: LossReason };

export interface LivenessOptions {
  silenceMs?: number;
  disconnectedGraceMs?: number;
  sendingGapMs?: number;
}

/**
 * Watches one peer connection: RTCP arrivals, our own sends, ICE states. A hub sends RTCP (receiver
 * reports, transport-wide feedback) at least every second or so while it receives media, so silence for
 * `silenceMs` while we keep sending means it is gone, well before ICE consent (30 s) says so.
 */
export class LivenessDetector {
  private readonly silenceMs: number;
  private readonly graceMs: number;
  private readonly gapMs: number;
  private lastRtcpMs: number | undefined;
  private lastSentMs: number | undefined;
  /** Since when media has been sent without a pause (or since the last reset). */
  private sendingSinceMs: number | undefined;
  private disconnectedSinceMs: number | undefined;
  private failed: LossReason | undefined;
  /** The hub's recent gaps between reports while we sent: kept across peers, it is the hub's habit. */
  private readonly cadence: number[] = [];

  constructor(options: LivenessOptions = {}) {
    this.silenceMs = options.silenceMs ?? HUB_SILENCE_MS;
    this.graceMs = options.disconnectedGraceMs ?? ICE_DISCONNECTED_GRACE_MS;
    this.gapMs = options.sendingGapMs ?? SENDING_GAP_MS;
  }

  /** A new peer, or a restarted one: what was seen before says nothing about it. */
  reset(): void {
    this.lastRtcpMs = undefined;
    this.lastSentMs = undefined;
    this.sendingSinceMs = undefined;
    this.disconnectedSinceMs = undefined;
    this.failed = undefined;
  }

  rtcp(nowMs: number): void {
    const last = this.lastRtcpMs;
    // Only a gap during which we kept sending says how often the hub reports on what it receives.
    if (last !== undefined && this.sendingSinceMs !== undefined && this.sendingSinceMs <= last) {
      this.cadence.push(nowMs - last);
      if (this.cadence.length > CADENCE_SAMPLES) this.cadence.shift();
    }
    this.lastRtcpMs = nowMs;
  }

  /** How long a silence means a lost hub: 2 s, or twice this hub's longest recent gap between reports. */
  silenceLimitMs(): number {
    const longest = Math.max(0, ...this.cadence);
    return Math.min(MAX_HUB_SILENCE_MS, Math.max(this.silenceMs, 2 * longest));
  }

  /** When the hub last sent RTCP; undefined since the last reset. */
  get lastRtcpAt(): number | undefined {
    return this.lastRtcpMs;
  }

  mediaSent(nowMs: number): void {
    if (this.lastSentMs === undefined || nowMs - this.lastSentMs > this.gapMs) this.sendingSinceMs = nowMs;
    this.lastSentMs = nowMs;
  }

  /** The peer's ICE connection state, as werift names it. */
  iceState(state: string, nowMs: number): void {
    if (state === "failed") this.failed = "ice-failed";
    else if (state === "closed") this.failed = "closed";
    else if (state === "disconnected") this.disconnectedSinceMs ??= nowMs;
    else if (state === "connected" || state === "completed") {
      this.disconnectedSinceMs = undefined;
      if (this.failed === "ice-failed") this.failed = undefined;
    }
  }

  /** The connection or DTLS ended (the hub closed it, or ICE failed for good). */
  closed(): void {
    this.failed ??= "closed";
  }

  verdict(nowMs: number): LivenessVerdict {
    if (this.failed) return { alive: false, reason: this.failed };
    if (this.disconnectedSinceMs !== undefined && nowMs - this.disconnectedSinceMs >= this.graceMs)
      return { alive: false, reason: "ice-disconnected" };
    if (this.isSilent(nowMs)) return { alive: false, reason: "silence" };
    return { alive: true };
  }

  private isSilent(nowMs: number): boolean {
    if (this.lastSentMs === undefined || this.sendingSinceMs === undefined) return false;
    if (nowMs - this.lastSentMs > this.gapMs) return false;
    const heardSince = Math.max(this.lastRtcpMs ?? Number.NEGATIVE_INFINITY, this.sendingSinceMs);
    return nowMs - heardSince >= this.silenceLimitMs();
  }
}

/** How long an ICE restart may take to bring the hub's RTCP back before a new session is made instead. */
export const ICE_RESTART_MEDIA_MS = 3000;
/**
 * While the hub is down, new sessions are tried after 0.5 s, then every 1 s (±25 %), for this many
 * attempts (about half a minute), so that video is back within about 2 s of the hub; after that the
 * backoff grows to the WHIP retry plan's 10 s, so that boxes do not keep a hub that is gone for long busy.
 * A hub that answers (503 with `Retry-After`) sets the pace itself.
 */
export const FAST_RECONNECT_ATTEMPTS = 30;
const FAST_BACKOFF_STEPS = 1;

export type RecoveryEvent =
  | { kind: "lost"; reason: LossReason }
  | { kind: "iceRestartUnsupported" }
  | { kind: "iceRestartFailed" }
  | { kind: "sessionFailed"; failure?: WhipFailure }
  | { kind: "recovered" };

export type RecoveryStep =
  | { kind: "restartIce"; mediaTimeoutMs: number }
  | { kind: "newSession"; delayMs: number; waitingForHub: boolean; reason: string }
  | { kind: "none" };

export interface RecoveryState {
  phase: "idle" | "restartingIce" | "newSession";
  /** New sessions that failed in a row. */
  failedSessions: number;
}

export const RECOVERY_IDLE: RecoveryState = { phase: "idle", failedSessions: 0 };

export interface RecoveryPlan {
  state: RecoveryState;
  step: RecoveryStep;
}

/**
 * The recovery ladder of one feed: an ICE restart first (cheap: same hub session, same stream); when the
 * hub cannot do one, it fails, or media does not come back in ICE_RESTART_MEDIA_MS, a new WHIP session
 * (the old one DELETEd); a new session that fails is tried again with backoff and jitter, honouring
 * `Retry-After`, for as long as the session lasts. A hub that closed the connection itself has ended its
 * session: straight to a new one. `random` returns [0, 1).
 */
export function planRecovery(state: RecoveryState, event: RecoveryEvent, random: () => number): RecoveryPlan {
  switch (event.kind) {
    case "lost":
      if (state.phase !== "idle") return { state, step: { kind: "none" } };
      if (event.reason === "closed") return newSessionNow("the hub closed the connection");
      return {
        state: { phase: "restartingIce", failedSessions: 0 },
        step: { kind: "restartIce", mediaTimeoutMs: ICE_RESTART_MEDIA_MS },
      };
    case "iceRestartUnsupported":
      return newSessionNow("the hub cannot restart ICE");
    case "iceRestartFailed":
      return newSessionNow("the ICE restart did not bring media back");
    case "sessionFailed":
      return retrySession(state, event.failure, random);
    case "recovered":
      return { state: RECOVERY_IDLE, step: { kind: "none" } };
    default:
      return assertNever(event);
  }
}

function newSessionNow(reason: string): RecoveryPlan {
  return {
    state: { phase: "newSession", failedSessions: 0 },
    step: { kind: "newSession", delayMs: 0, waitingForHub: false, reason },
  };
}

function retrySession(
  state: RecoveryState,
  failure: WhipFailure | undefined,
  random: () => number,
): RecoveryPlan {
  const attempt = state.failedSessions;
  const planAttempt = attempt < FAST_RECONNECT_ATTEMPTS ? Math.min(attempt, FAST_BACKOFF_STEPS) : attempt;
  // A failure that is not WHIP's (ICE or DTLS did not come up) is the path, like a network error.
  const decision: RetryDecision = whipRetryPlan(failure ?? { kind: "network" }, planAttempt, random);
  return {
    state: { phase: "newSession", failedSessions: attempt + 1 },
    step: { kind: "newSession", delayMs: decision.delayMs, waitingForHub: true, reason: decision.reason },
  };
}

/** Transient start failures are retried for this long in all; then the session start fails. */
export const START_PATIENCE_MS = 10_000;

/**
 * Whether a failed first connection is tried again, and after how long: a hub that is starting up (5xx,
 * `Retry-After`, unreachable for a moment) is waited for up to START_PATIENCE_MS; a configuration
 * problem (4xx) or an unusable answer fails the start at once, so the person at the button hears of it.
 */
export function planStartRetry(
  failure: WhipFailure | undefined,
  attempt: number,
  waitedMs: number,
  random: () => number,
): number | undefined {
  if (!failure) return undefined;
  const decision = whipRetryPlan(failure, attempt, random);
  if (decision.cause === "configuration") return undefined;
  return waitedMs + decision.delayMs > START_PATIENCE_MS ? undefined : decision.delayMs;
}
