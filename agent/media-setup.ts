import type { Logger } from "pino";
import { ENCODERS } from "../pipelines/encoders.js";
import { readSystemDevices } from "./adapters/devices/system-devices.js";
import { defaultCacheDir, readMediaEnvironment } from "./adapters/gstreamer/media-environment.js";
import type { SpokeConfig } from "./config/schema.js";
import type { DevicesPlan, EncoderReport } from "./core/devices/report.js";
import { sourceFactsFor } from "./core/devices/source-facts.js";
import type { ProbeResult } from "./core/encoder-choice.js";
import { type FeedPlanning, type MediaEnvironment, planFeeds } from "./core/feed-plan.js";

/**
 * Wiring shared by `spoke run`, `spoke check-config` and `spoke devices`: probe the box (or take what the
 * caller measured), read the devices the feeds name, and plan every feed on it.
 */
export async function planMediaFor(
  config: SpokeConfig,
  options: { log: Logger; media?: MediaEnvironment; cacheDir?: string },
): Promise<{ environment: MediaEnvironment; planning: FeedPlanning }> {
  const environment =
    options.media ??
    (await readMediaEnvironment({ cacheDir: options.cacheDir ?? defaultCacheDir(), log: options.log }));
  const hasDevices = config.feeds.some((feed) => feed.source.type === "v4l2");
  const video = hasDevices ? (await readSystemDevices()).video : [];
  const sources = sourceFactsFor(config.feeds, video, environment.platform);
  return { environment, planning: planFeeds(config.feeds, environment, sources) };
}

/** The probe's results as `spoke devices` reports them. */
export function encoderReports(probes: readonly ProbeResult[]): EncoderReport[] {
  return probes.map((probe) => ({
    id: probe.encoder,
    element: ENCODERS[probe.encoder].element,
    hardware: ENCODERS[probe.encoder].hardware,
    usable: probe.usable,
    reason: probe.detail,
    proven: probe.usable,
  }));
}

/** A plan as `spoke devices` shows it. */
export function devicesPlan(planning: FeedPlanning): DevicesPlan {
  if (!planning.ok) return { ok: false, error: planning.error };
  return {
    ok: true,
    feeds: planning.capacity.feeds.map((feed) => {
      const shown = {
        id: feed.id,
        role: feed.role,
        encoder: feed.encoder,
        hardware: feed.hardware,
        mode: feed.mode,
      };
      return feed.lowered ? { ...shown, lowered: feed.lowered } : shown;
    }),
    hardware: planning.capacity.hardware,
    software: planning.capacity.software,
    warnings: planning.capacity.warnings,
  };
}
