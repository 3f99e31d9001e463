/**
 * When to try a WHIP POST again after it failed. A 4xx is a configuration problem (wrong token, URL,
 * codec): retrying fast only fills the hub's log, so it is retried slowly and reported with the hub's
 * words. 5xx, timeouts and network errors are the hub or the path being down for a while: exponential
 * backoff with jitter, so that many boxes do not come back in step, honouring `Retry-After`.
 */

/** How long a hub may ask us to wait at most; a larger or absurd value is clamped to this. */
export const MAX_RETRY_AFTER_MS = 300_000;

/**
 * `Retry-After` (RFC 9110 §10.2.3): delay seconds or an HTTP date, in milliseconds from `nowMs`, clamped
 * to [0, MAX_RETRY_AFTER_MS]. Undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (text.length === 0 || text.length > 64) return undefined;
  let ms: number;
  if (/^\d+$/.test(text)) ms = Number(text) * 1000;
  else {
    // IMF-fixdate and the obsolete forms all carry a weekday name or a month name and a time.
    if (!/[A-Za-z]{3}/.test(text) || !/\d{1,2}:\d{2}:\d{2}/.test(text)) return undefined;
    const at = Date.parse(text);
    if (Number.isNaN(at)) return undefined;
    ms = at - nowMs;
  }
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, Math.round(ms)));
}

/** What went wrong, as far as retrying cares. */
export type WhipFailure =
  | { kind: "http"; status: number; message?: string; retryAfterMs?: number }
  | { kind: "timeout"; message?: string }
  | { kind: "network"; message?: string };

export interface RetryDecision {
  delayMs: number;
  /** `configuration`: someone has to fix something (reported as such); `transient`: it should pass. */
  cause: "configuration" | "transient";
  /** For the log: what failed, with the hub's own message when it gave one. */
  reason: string;
}

export const BACKOFF_MIN_MS = 500;
export const BACKOFF_MAX_MS = 10_000;
export const CONFIG_RETRY_MIN_MS = 30_000;
export const CONFIG_RETRY_MAX_MS = 60_000;

/** 408 and 429 are 4xx but say "later", not "wrong": they are retried like a 5xx. */
function isTransientStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/**
 * The wait before attempt `attempt + 1` (0 for the first retry). `random` returns [0, 1): the jitter,
 * injectable so the plan is a pure function.
 */
export function whipRetryPlan(failure: WhipFailure, attempt: number, random: () => number): RetryDecision {
  const jitter = Math.min(1, Math.max(0, random()));
  const n = Math.max(0, Math.floor(attempt));
  if (failure.kind === "http" && !isTransientStatus(failure.status)) {
    const delayMs = Math.round(CONFIG_RETRY_MIN_MS + jitter * (CONFIG_RETRY_MAX_MS - CONFIG_RETRY_MIN_MS));
    return {
      delayMs: Math.max(delayMs, failure.retryAfterMs ?? 0),
      cause: "configuration",
      reason: `the hub refused the request (${failure.status})${failure.message ? `: ${failure.message}` : ""}`,
    };
  }
  // Exponential from BACKOFF_MIN_MS, ±25 % jitter, within [BACKOFF_MIN_MS, BACKOFF_MAX_MS].
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(n, 20));
  const jittered = Math.round(base * (0.75 + 0.5 * jitter));
  const backoff = Math.min(BACKOFF_MAX_MS, Math.max(BACKOFF_MIN_MS, jittered));
  const retryAfter = failure.kind === "http" ? (failure.retryAfterMs ?? 0) : 0;
  const what =
    failure.kind === "http"
      ? `the hub answered ${failure.status}`
      : failure.kind === "timeout"
        ? "the hub did not answer in time"
        : "the hub could not be reached";
  return {
    delayMs: Math.max(backoff, retryAfter),
    cause: "transient",
    reason: `${what}${failure.message ? `: ${failure.message}` : ""}`,
  };
}
