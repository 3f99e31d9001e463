import { ENCODERS, type EncoderId } from "../../pipelines/encoders.js";
import type { JpegDecoder } from "../../pipelines/feed-pipeline.js";
import { type H264Level, h264Level } from "../../pipelines/h264-level.js";
import type { FeedConfig } from "../config/schema.js";
import { type CapacityPlan, type PlanRequest, planCapacity } from "./capacity.js";
import { type Platform, type ProbeResult, usableEncoders } from "./encoder-choice.js";
import type { FeedStatus } from "./feed-status.js";
import type { MediaSummary } from "./health.js";
import { type FeedProfile, feedProfile, type SourceLimits, wantedMode } from "./profiles.js";

/**
 * From the configuration and what this box has (platform, proven encoders, sources) to what each feed
 * runs: its encoder, full mode and degradation profile. Pure; the agent runs it at start and refuses a
 * configuration the box cannot carry, with the planner's message.
 */

export interface MediaEnvironment {
  platform: Platform;
  probes: readonly ProbeResult[];
  /** JPEG decoders present on the box, for MJPEG capture. */
  jpegDecoders: readonly JpegDecoder[];
}

/** What is known of a feed's source at planning time (a device may be unplugged then). */
export interface SourceFacts extends SourceLimits {
  capture?: PlanRequest["capture"];
}

export interface PlannedFeedSettings {
  feed: FeedConfig;
  encoder: EncoderId;
  hardware: boolean;
  profile: FeedProfile;
  jpegDecoder: JpegDecoder;
  /** Why the plan gave less than the feed wanted, for health and `spoke devices`. */
  lowered?: string;
}

export type FeedPlanning =
  | { ok: true; capacity: CapacityPlan; feeds: PlannedFeedSettings[] }
  | { ok: false; error: string };

/** A source the box cannot describe before it opens it: a test picture, a CSI camera, an absent device. */
export const NOMINAL_SOURCE: SourceFacts = { native: { width: 1920, height: 1080, framerate: 30 } };

export function planFeeds(
  feeds: readonly FeedConfig[],
  environment: MediaEnvironment,
  sources: ReadonlyMap<string, SourceFacts>,
): FeedPlanning {
  const requests = feeds.map((feed): PlanRequest => {
    const facts = sources.get(feed.id) ?? NOMINAL_SOURCE;
    const request: PlanRequest = {
      id: feed.id,
      role: feed.role,
      keep: feedProfile(feed, facts.native).policy.keep,
      wanted: { hardware: wantedMode(feed, facts, true), software: wantedMode(feed, facts, false) },
      explicit: feed.width !== undefined || feed.height !== undefined || feed.framerate !== undefined,
      encoders: usableEncoders(environment.platform, environment.probes, feed.encoder),
    };
    if (facts.capture) request.capture = facts.capture;
    return request;
  });
  const outcome = planCapacity(environment.platform, requests);
  if (!outcome.ok) return outcome;
  const jpegDecoder = chooseJpegDecoder(environment.platform, environment.jpegDecoders);
  const settings = feeds.map((feed, index): PlannedFeedSettings => {
    const planned = outcome.plan.feeds[index];
    if (!planned) throw new Error(`the capacity plan lost feed ${feed.id}`);
    const result: PlannedFeedSettings = {
      feed,
      encoder: planned.encoder,
      hardware: ENCODERS[planned.encoder].hardware,
      profile: feedProfile(feed, planned.mode),
      jpegDecoder,
    };
    if (planned.lowered) result.lowered = planned.lowered;
    return result;
  });
  return { ok: true, capacity: outcome.plan, feeds: settings };
}

/** MJPEG decoded in hardware where the platform can, else in software. */
export const JPEG_DECODER_ORDER: Readonly<Record<Platform, readonly JpegDecoder[]>> = {
  "raspberry-pi-4": ["v4l2jpegdec", "jpegdec"],
  "raspberry-pi-5": ["jpegdec"],
  intel: ["vajpegdec", "jpegdec"],
  nvidia: ["nvjpegdec", "jpegdec"],
  jetson: ["jpegdec"],
  generic: ["vajpegdec", "jpegdec"],
};

export function chooseJpegDecoder(platform: Platform, present: readonly JpegDecoder[]): JpegDecoder {
  return JPEG_DECODER_ORDER[platform].find((decoder) => present.includes(decoder)) ?? "jpegdec";
}

/** The H.264 level the feed's encoder is pinned to and its SDP announces: one source for both. */
export function feedLevel(settings: PlannedFeedSettings): H264Level {
  const { profile, encoder } = settings;
  return h264Level(
    { ...profile.mode, bitrateKbps: profile.policy.maxBitrateKbps },
    ENCODERS[encoder].profile,
  );
}

/** A feed's status before its worker runs: what it will send and with which encoder. */
export function idleFeedStatus(settings: PlannedFeedSettings): FeedStatus {
  const { feed, encoder, hardware, profile } = settings;
  const status: FeedStatus = {
    id: feed.id,
    role: feed.role,
    state: "stopped",
    encoder,
    hardwareEncoder: hardware,
    mode: { ...profile.mode },
    step: 0,
    bitrateKbps: profile.bitrateKbps,
    restarts: 0,
    packetsForwarded: 0,
    bytesForwarded: 0,
  };
  if (settings.lowered) status.lowered = settings.lowered;
  return status;
}

/** The plan in health: platform and encoder load, so a fleet operator sees a box near its limit. */
export function mediaSummary(capacity: CapacityPlan): MediaSummary {
  const percent = (load: { usedMbPerSecond: number; capacityMbPerSecond: number }) =>
    Math.round((load.usedMbPerSecond / load.capacityMbPerSecond) * 100);
  return {
    platform: capacity.platform,
    hardwareEncoderLoadPercent: capacity.hardware.capacityMbPerSecond > 0 ? percent(capacity.hardware) : null,
    softwareEncoderLoadPercent: percent(capacity.software),
    warnings: capacity.warnings,
  };
}
