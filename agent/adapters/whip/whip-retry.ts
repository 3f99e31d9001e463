import { setTimeout as sleepFor } from "node:timers/promises";
import { type RetryDecision, whipRetryPlan } from "../../core/whip/retry.js";
import { whipFailureOf } from "./whip-client.js";

export interface WhipRetryOptions {
  /** Attempts in all, the first included (1: no retry). */
  maxAttempts: number;
  /** Before each wait: for the log. */
  onRetry?: (decision: RetryDecision, attempt: number, error: unknown) => void;
  /** True when the caller gave up meanwhile (the publication closed): the last error is thrown. */
  stopped?: () => boolean;
  /** Injected in tests. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/**
 * Runs a WHIP request again as the retry plan says: slowly after a 4xx, with backoff after 5xx,
 * timeouts and network errors, after `Retry-After` when the hub names it. Errors no retry can help
 * (a malformed answer) are thrown at once.
 */
export async function withWhipRetry<T>(operation: () => Promise<T>, options: WhipRetryOptions): Promise<T> {
  const sleep = options.sleep ?? ((ms: number) => sleepFor(ms).then(() => undefined));
  const random = options.random ?? Math.random;
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await operation();
    } catch (error) {
      const failure = whipFailureOf(error);
      if (!failure || attempt + 1 >= options.maxAttempts || options.stopped?.()) throw error;
      const decision = whipRetryPlan(failure, attempt, random);
      options.onRetry?.(decision, attempt, error);
      await sleep(decision.delayMs);
      if (options.stopped?.()) throw error;
    }
  }
}
