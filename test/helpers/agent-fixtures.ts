import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import type { SpokeConfig } from "../../agent/config/schema.js";
import { parseConfig } from "../../agent/config/validate.js";
import { configInput } from "./config.js";

/** Tests log only warnings and errors, to stderr, so a failing run shows what the agent said. */
export const testLog = pino({ level: process.env.SPOKE_TEST_LOG ?? "warn" }, pino.destination(2));

export const QUICK_TIMINGS = {
  startTimeoutMs: 8_000,
  stallTimeoutMs: 1_500,
  stopGraceMs: 1_000,
  memoryLimitBytes: 400 * 1024 * 1024,
};

/** A valid config for a 640×360 test feed published to `whipUrl`, with its own control socket. */
export function testConfig(
  whipUrl: string,
  overrides: { feed?: Record<string, unknown>; mqttUrl?: string; token?: string } = {},
): SpokeConfig {
  const dir = mkdtempSync(join(tmpdir(), "spoke-test-"));
  const whip = overrides.token ? { url: whipUrl, bearerToken: overrides.token } : { url: whipUrl };
  return parseConfig(
    configInput({
      feeds: [
        { id: "room-camera", source: { type: "test" }, width: 640, height: 360, whip, ...overrides.feed },
      ],
      mqtt: { url: overrides.mqttUrl ?? "mqtt://127.0.0.1:9", healthIntervalSeconds: 1 },
      control: { socketPath: join(dir, "control.sock") },
    }),
    "test config",
  );
}
