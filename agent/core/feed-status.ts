import type { ErrorInfo } from "./errors.js";
import type { HubLinkState } from "./hub-link.js";

/** What a feed is doing, as shown in health reports. */
/**
 * `restarting` covers a worker that keeps failing (an unplugged camera, say): it is retried for as long
 * as the session lasts, so that plugging the camera back in is all it takes.
 */
export type FeedState = "stopped" | "starting" | "running" | "restarting";

/** A size and frame rate, as health shows them. */
export interface FeedMode {
  width: number;
  height: number;
  framerate: number;
}

export interface FeedStatus {
  id: string;
  /** camera, document or ultrasound. */
  role: string;
  state: FeedState;
  /** The H.264 encoder element the feed uses, and whether it is the box's hardware. */
  encoder: string;
  hardwareEncoder: boolean;
  /** What the encoder sends now, and the step of the feed's degradation ladder (0: full). */
  mode: FeedMode;
  step: number;
  /** The encoder's current target. */
  bitrateKbps: number;
  /** Why the capacity plan gave less than the feed wanted. */
  lowered?: string;
  /** Frames per second from the source and into the encoder, over the last stats interval. */
  framerateIn?: number;
  framerateOut?: number;
  /** Frames dropped to hold the mode's frame rate, this session. */
  droppedFrames?: number;
  /** The capture device opened and the format taken from it (V4L2 sources). */
  source?: { device: string; format: string };
  /** Worker restarts since the session started. */
  restarts: number;
  packetsForwarded: number;
  bytesForwarded: number;
  /** The feed worker's own CPU (% of one core) and resident memory, as it last reported them. */
  workerCpuPercent?: number;
  workerMemoryBytes?: number;
  /**
   * The feed's sound, when it has a microphone: whether Opus packets reach the publisher now, the
   * microphone's RMS level in dBFS as the worker last measured it, and packets forwarded this session.
   */
  audio?: FeedAudioStatus;
  /** The feed's network while live: congestion control's estimate, and what steering gave the feed. */
  network?: FeedNetworkStatus;
  /** The feed's link to its hub during a session: connected, or reconnecting after losing it. */
  link?: FeedLinkStatus;
  lastError?: ErrorInfo;
  /** While restarting: the worker has failed so often in a row that it is retried only now and then. */
  retryingSlowly?: boolean;
  /** While restarting: how long until the next attempt, as of the last failure. */
  nextRetryInMs?: number;
}

/** What a publication measures of its link to the hub, beside its estimate: only the figures it has. */
export interface LinkFigures {
  rttMs?: number;
  lossPercent?: number;
  /** Interarrival jitter from the hub's last receiver report, ms. */
  jitterMs?: number;
  /** What the publication sent over the last second or so (RTP as it left the pacer, as the link carries it), kbit/s. */
  sentKbps?: number;
  /** The hub's NACK, PLI and FIR received this publication. */
  requests?: FeedRequestCounts;
  ice?: FeedIceStatus;
}

export interface FeedNetworkStatus extends LinkFigures {
  /** The publication's own estimate of what its path carries, kbit/s. */
  estimateKbps: number;
  /** Its share after the site's feeds were allotted by priority (and the site budget), kbit/s. */
  targetKbps: number;
  /** The degradation step that share buys. */
  step: number;
  /**
   * Set while the encoder's output overshot its share on this content: the best step it may take
   * until its output has fitted for a while.
   */
  overshootStep?: number;
}

export interface FeedRequestCounts {
  /** NACK packets, and the RTP packets they asked for again (werift resends them from its cache). */
  nacks: number;
  nackedPackets: number;
  /** Keyframe requests: picture loss indications and full intra requests. */
  plis: number;
  firs: number;
}

/** The publication's ICE: its state and the candidate pair in use. */
export interface FeedIceStatus {
  state: string;
  /** Our side of the selected pair: host, srflx, prflx or relay (through the hub's TURN server). */
  candidateType?: string;
  /** How the media leaves: UDP, or TCP / TLS to a TURN server (relay only). */
  transport?: "udp" | "tcp" | "tls";
}

/**
 * `reconnecting`: the hub went silent or ICE failed, and an ICE restart or a new WHIP session is under
 * way; `waiting-for-hub`: new sessions fail (the hub is down), tried again with backoff.
 */
export interface FeedLinkStatus {
  state: HubLinkState;
  /** Times this session the feed lost its hub and set out to reconnect. */
  reconnects: number;
  /** While not connected: why the last attempt failed. */
  lastError?: ErrorInfo;
}

export interface FeedAudioStatus {
  flowing: boolean;
  levelDb?: number;
  packetsForwarded: number;
  /** Why the microphone stopped (unplugged, busy); the picture went on without it. */
  lastError?: ErrorInfo;
}

/** A worker that ran this long before failing was healthy: its failure starts the backoff afresh. */
export const STABLE_RUN_MS = 30_000;

/**
 * Consecutive failures including this one. `ranForMs` is how long the failed worker had been running
 * (undefined when it never started), so hiccups hours apart do not add up to the longest backoff.
 */
export function consecutiveFailures(previous: number, ranForMs: number | undefined): number {
  return ranForMs !== undefined && ranForMs >= STABLE_RUN_MS ? 1 : previous + 1;
}

export interface RestartPolicy {
  /** Delay of the second attempt in a row; each further one doubles it, up to `maxMs`. */
  baseMs: number;
  maxMs: number;
  /** Each delay is spread by ± this fraction, so that feeds (and boxes) failing together do not retry together. */
  jitter: number;
  /** From this many failures in a row on, retry only every `slowEveryMs`. */
  slowAfterFailures: number;
  slowEveryMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  baseMs: 500,
  maxMs: 10_000,
  jitter: 0.2,
  slowAfterFailures: 5,
  slowEveryMs: 30_000,
};

export interface RestartPlan {
  delayMs: number;
  /** The feed keeps failing: it is retried every `slowEveryMs` and its health says so. */
  slowly: boolean;
}

/**
 * When to retry after the n-th consecutive failure (1-based). The first is retried at once: a crash of a
 * healthy worker is usually a one-off and the spare worker makes the retry cheap. Then exponential from
 * `baseMs` with jitter, and after `slowAfterFailures` in a row a slow retry that costs the box little
 * while, say, a camera stays unplugged. `random` returns [0, 1) (Math.random, or a fixed value in tests).
 */
export function restartPlan(
  attempt: number,
  random: () => number,
  policy: RestartPolicy = DEFAULT_RESTART_POLICY,
): RestartPlan {
  if (attempt <= 1) return { delayMs: 0, slowly: false };
  const spread = (ms: number) => Math.round(ms * (1 - policy.jitter + 2 * policy.jitter * random()));
  if (attempt >= policy.slowAfterFailures) return { delayMs: spread(policy.slowEveryMs), slowly: true };
  return { delayMs: spread(Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 2))), slowly: false };
}
