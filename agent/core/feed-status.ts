import type { ErrorInfo } from "./errors.js";

/** What a feed is doing, as shown in health reports. */
export type FeedState = "stopped" | "starting" | "running" | "restarting" | "failed";

export interface FeedStatus {
  id: string;
  state: FeedState;
  /** Worker restarts since the session started. */
  restarts: number;
  packetsForwarded: number;
  bytesForwarded: number;
  /** The feed worker's own CPU (% of one core) and resident memory, as it last reported them. */
  workerCpuPercent?: number;
  workerMemoryBytes?: number;
  lastError?: ErrorInfo;
}

/** Delay before the n-th restart (1-based): doubles from 0.5 s, capped at 10 s. */
export function restartDelayMs(attempt: number): number {
  return Math.min(10_000, 500 * 2 ** Math.max(0, attempt - 1));
}
