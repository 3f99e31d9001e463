import pino, { type DestinationStream, type Logger } from "pino";

/** Paths of secrets anywhere they may be logged (config dumps, request options). */
export const REDACTED_PATHS = [
  "*.bearerToken",
  "*.*.bearerToken",
  "*.password",
  "*.*.password",
  "config.feeds[*].whip.bearerToken",
  "config.mqtt.password",
  "config.network.iceServers[*].credential",
  "*.credential",
  "*.*.credential",
  "*.iceServers[*].credential",
  "headers.authorization",
  "*.headers.authorization",
];

/**
 * Structured JSON logs on stdout (journald collects them). Synchronous, so the last lines survive an
 * exit; secrets are redacted. Never log media, SDP bodies or anything a clinician typed.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = { level, base: { app: "spoke" }, redact: { paths: REDACTED_PATHS, censor: "[redacted]" } };
  return destination ? pino(options, destination) : pino(options);
}
