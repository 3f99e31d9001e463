import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import type { SpokeConfig } from "../../agent/config/schema.js";
import { parseConfig } from "../../agent/config/validate.js";
import { type MediaEnvironment, type PlannedFeedSettings, planFeeds } from "../../agent/core/feed-plan.js";
import type { RunningAgent } from "../../agent/main.js";
import type { FeedPlan } from "../../pipelines/feed-pipeline.js";
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

/** A box with the software encoders every machine has, as the probe finds them here. */
export const TEST_MEDIA: MediaEnvironment = {
  platform: "generic",
  probes: [
    { encoder: "x264enc", usable: true, detail: "test encode" },
    { encoder: "openh264enc", usable: true, detail: "test encode" },
  ],
  jpegDecoders: ["jpegdec"],
};

/** The planned settings of a config's feed on the test box. */
export function plannedFeed(config: SpokeConfig, index = 0): PlannedFeedSettings {
  const planning = planFeeds(config.feeds, TEST_MEDIA, new Map());
  if (!planning.ok) throw new Error(planning.error);
  const settings = planning.feeds[index];
  if (!settings) throw new Error(`no feed ${index}`);
  return settings;
}

/** What a feed's worker runs at its full mode, for tests that start a worker directly. */
export function plannedPipeline(config: SpokeConfig, index = 0): FeedPlan {
  const settings = plannedFeed(config, index);
  const source = settings.feed.source;
  return {
    feedId: settings.feed.id,
    source:
      source.type === "test"
        ? { type: "test", pattern: source.pattern }
        : source.type === "v4l2"
          ? {
              type: "v4l2",
              device: source.device,
              capture: { format: "raw", ...settings.profile.mode },
              jpegDecoder: "jpegdec",
            }
          : { type: "libcamera" },
    encoder: settings.encoder,
    fullMode: settings.profile.mode,
    mode: settings.profile.mode,
    bitrateKbps: settings.profile.bitrateKbps,
    maxBitrateKbps: settings.profile.policy.maxBitrateKbps,
    keyframeIntervalSeconds: settings.feed.keyframeIntervalSeconds,
  };
}

/**
 * The session states an agent goes through from now on, each once in a row (polled every 10 ms); the
 * polling ends with the test's cleanups, where its stop is pushed.
 */
export function recordSessionStates(agent: RunningAgent, cleanups: (() => Promise<void>)[]): string[] {
  const states: string[] = [];
  const poll = setInterval(() => {
    const state = agent.session.report().state;
    if (states.at(-1) !== state) states.push(state);
  }, 10);
  cleanups.push(async () => clearInterval(poll));
  return states;
}
