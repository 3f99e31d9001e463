import type { ErrorInfo } from "./errors.js";

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
  lastError?: ErrorInfo;
}

export interface FeedAudioStatus {
  flowing: boolean;
  levelDb?: number;
  packetsForwarded: number;
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

/** Delay before the n-th consecutive restart (1-based): doubles from 0.5 s, capped at 10 s. */
export function restartDelayMs(attempt: number): number {
  return Math.min(10_000, 500 * 2 ** Math.max(0, attempt - 1));
}
