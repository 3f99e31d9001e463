/**
 * Stable error codes. Callers branch on `code`, never on message text; every code is documented in
 * docs/errors.md (a unit test keeps the two in step).
 */
export const ERROR_CODES = [
  "SPOKE_CONFIG_UNREADABLE",
  "SPOKE_CONFIG_INVALID",
  "SPOKE_CAPACITY_EXCEEDED",
  "SPOKE_FEED_SOURCE_MISSING",
  "SPOKE_FEED_SOURCE_BUSY",
  "SPOKE_FEED_FORMAT_UNSUPPORTED",
  "SPOKE_FEED_ENCODER_FAILED",
  "SPOKE_FEED_PIPELINE_INVALID",
  "SPOKE_FEED_PIPELINE_ERROR",
  "SPOKE_FEED_START_TIMEOUT",
  "SPOKE_FEED_STALLED",
  "SPOKE_FEED_WORKER_EXITED",
  "SPOKE_FEED_WORKER_LEAK",
  "SPOKE_WHIP_UNREACHABLE",
  "SPOKE_WHIP_HTTP_ERROR",
  "SPOKE_WHIP_BAD_ANSWER",
  "SPOKE_WHIP_AUDIO_REJECTED",
  "SPOKE_WHIP_PATCH_UNSUPPORTED",
  "SPOKE_WEBRTC_FAILED",
  "SPOKE_CONTROL_BAD_REQUEST",
  "SPOKE_CONTROL_UNREACHABLE",
  "SPOKE_CONTROL_FORBIDDEN",
  "SPOKE_CONTROL_NO_ANSWER",
  "SPOKE_CONTROL_BAD_ANSWER",
  "SPOKE_CONTROL_UNAVAILABLE",
  "SPOKE_BUTTON_UNAVAILABLE",
  "SPOKE_DEVICE_ID_UNSTABLE",
  "SPOKE_DEVICE_NOT_FOUND",
  "SPOKE_DEVICE_AMBIGUOUS",
  "SPOKE_DEVICE_NO_USABLE_MODE",
  "SPOKE_INTERNAL",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** The serialisable form that travels over MQTT, the control socket and the worker channel. */
export interface ErrorInfo {
  code: ErrorCode;
  message: string;
}

export class SpokeError extends Error {
  readonly code: ErrorCode;
  readonly context: Readonly<Record<string, unknown>>;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; context?: Record<string, unknown> } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "SpokeError";
    this.code = code;
    this.context = options.context ?? {};
  }

  toInfo(): ErrorInfo {
    return { code: this.code, message: this.message };
  }
}

export function isSpokeError(error: unknown): error is SpokeError {
  return error instanceof SpokeError;
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && (ERROR_CODES as readonly string[]).includes(value);
}

/** Wraps anything thrown into a SpokeError, keeping the original as `cause`. */
export function toSpokeError(error: unknown, fallback: ErrorCode = "SPOKE_INTERNAL"): SpokeError {
  if (isSpokeError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new SpokeError(fallback, message, { cause: error });
}

/** For exhaustive switches: the compiler proves this is unreachable. */
export function assertNever(value: never): never {
  throw new SpokeError("SPOKE_INTERNAL", `unexpected value: ${JSON.stringify(value)}`);
}
