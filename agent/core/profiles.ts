import type { DegradationConfig, FeedConfig, FeedRole } from "../config/schema.js";

/**
 * What each feed sends by default, and how it degrades, by clinical role. Pure data and arithmetic: the
 * congestion controller (WebRTC issue) picks a bitrate; `rungFor` says which step of the feed's ladder
 * that bitrate buys.
 *
 * - ultrasound: motion is diagnostic (tele-ultrasound studies put frame rate first), so it keeps its frame
 *   rate and gives up size;
 * - document camera: text, films and screens must stay sharp, so it keeps its size and gives up frame rate;
 * - room camera: balances the two.
 */

export interface Mode {
  width: number;
  height: number;
  framerate: number;
}

/** One step of a ladder: a mode and the bitrate below which the next step down looks better. */
export interface Rung extends Mode {
  minKbps: number;
}

export type Keep = NonNullable<DegradationConfig["keep"]>;

export interface DegradationPolicy {
  keep: Keep;
  minBitrateKbps: number;
  maxBitrateKbps: number;
  /** Best first. Rung 0 is the feed's full mode. */
  ladder: Rung[];
}

export interface FeedProfile {
  mode: Mode;
  bitrateKbps: number;
  policy: DegradationPolicy;
}

interface RoleDefaults {
  keep: Keep;
  /** Bits per pixel at which this content looks right; static documents compress far better than motion. */
  bitsPerPixel: number;
  minBitrateKbps: number;
  maxBitrateKbps: number;
}

const ROLE_DEFAULTS: Readonly<Record<FeedRole, RoleDefaults>> = {
  camera: { keep: "balanced", bitsPerPixel: 0.035, minBitrateKbps: 150, maxBitrateKbps: 4000 },
  document: { keep: "resolution", bitsPerPixel: 0.02, minBitrateKbps: 200, maxBitrateKbps: 6000 },
  ultrasound: { keep: "framerate", bitsPerPixel: 0.04, minBitrateKbps: 300, maxBitrateKbps: 8000 },
};

/** What the source can give at most: the capture's best mode, or a test picture's nominal one. */
export interface SourceLimits {
  /** The largest mode the source offers (for a test picture: 1920×1080 at 60). */
  native: Mode;
}

const FULL_HD: Mode = { width: 1920, height: 1080, framerate: 30 };
const HD: Mode = { width: 1280, height: 720, framerate: 30 };

/**
 * The mode a feed asks for before capacity planning: what the config says, else the role's default.
 * Camera 1080p30 (720p30 on a software encoder); document the source's largest size up to 4K at 15 fps;
 * ultrasound the source's own size and frame rate up to 1080p60.
 */
export function wantedMode(feed: FeedConfig, limits: SourceLimits, hardwareEncoder: boolean): Mode {
  const fallback = defaultMode(feed.role, limits.native, hardwareEncoder);
  return {
    width: feed.width ?? (feed.height === undefined ? fallback.width : even(feed.height * (16 / 9))),
    height: feed.height ?? (feed.width === undefined ? fallback.height : even(feed.width * (9 / 16))),
    framerate: feed.framerate ?? fallback.framerate,
  };
}

function defaultMode(role: FeedRole, native: Mode, hardwareEncoder: boolean): Mode {
  switch (role) {
    case "camera":
      return fitWithin(native, hardwareEncoder ? FULL_HD : HD);
    case "document":
      return fitWithin(native, { width: 3840, height: 2160, framerate: 15 });
    case "ultrasound":
      return fitWithin(native, { width: 1920, height: 1080, framerate: 60 });
  }
}

/** The largest of `mode` within `limit`, keeping its aspect ratio and even sizes. */
export function fitWithin(mode: Mode, limit: Mode): Mode {
  const scale = Math.min(1, limit.width / mode.width, limit.height / mode.height);
  return {
    width: even(mode.width * scale),
    height: even(mode.height * scale),
    framerate: Math.min(mode.framerate, limit.framerate),
  };
}

/** The nearest even number not above `value`, at least 2. */
function even(value: number): number {
  return Math.max(2, Math.floor(value / 2) * 2);
}

/** A feed's profile at its (planned) full mode: starting bitrate, floor, ceiling and ladder. */
export function feedProfile(feed: FeedConfig, mode: Mode): FeedProfile {
  const defaults = ROLE_DEFAULTS[feed.role];
  const keep = feed.degradation?.keep ?? defaults.keep;
  const ladder = buildLadder(mode, keep, defaults.bitsPerPixel);
  const maxBitrateKbps = feed.degradation?.maxBitrateKbps ?? defaults.maxBitrateKbps;
  const minBitrateKbps = Math.min(
    feed.degradation?.minBitrateKbps ?? defaults.minBitrateKbps,
    maxBitrateKbps,
  );
  const top = ladder[0]?.minKbps ?? minBitrateKbps;
  // Start at what the full mode needs, with room, inside the floor and the ceiling.
  const start = feed.bitrateKbps ?? Math.round(top * 1.5);
  return {
    mode,
    bitrateKbps: clamp(start, minBitrateKbps, maxBitrateKbps),
    policy: { keep, minBitrateKbps, maxBitrateKbps, ladder },
  };
}

/** Scale factors for size and frame rate, step by step, best first. */
const STEPS: Readonly<Record<Keep, ReadonlyArray<{ size: number; rate: number }>>> = {
  // Size goes first; the frame rate never drops.
  framerate: [
    { size: 1, rate: 1 },
    { size: 0.75, rate: 1 },
    { size: 0.5, rate: 1 },
    { size: 0.375, rate: 1 },
    { size: 0.25, rate: 1 },
  ],
  // Frame rate goes first, down to a slide show; size only as the last resort.
  resolution: [
    { size: 1, rate: 1 },
    { size: 1, rate: 2 / 3 },
    { size: 1, rate: 1 / 3 },
    { size: 1, rate: 1 / 7.5 },
    { size: 0.5, rate: 1 / 7.5 },
  ],
  balanced: [
    { size: 1, rate: 1 },
    { size: 2 / 3, rate: 1 },
    { size: 2 / 3, rate: 2 / 3 },
    { size: 0.5, rate: 2 / 3 },
    { size: 1 / 3, rate: 1 / 2 },
  ],
};

/** Smallest picture worth sending: below this a step only loses information. */
const MIN_HEIGHT = 180;

export function buildLadder(mode: Mode, keep: Keep, bitsPerPixel: number): Rung[] {
  const rungs: Rung[] = [];
  for (const step of STEPS[keep]) {
    const height = even(mode.height * step.size);
    if (step.size < 1 && height < MIN_HEIGHT) continue;
    const width = even((mode.width * height) / mode.height);
    const framerate = Math.max(1, Math.round(mode.framerate * step.rate));
    const last = rungs.at(-1);
    if (last && last.width === width && last.height === height && last.framerate === framerate) continue;
    const minKbps = Math.round((width * height * framerate * bitsPerPixel) / 1000);
    rungs.push({ width, height, framerate, minKbps });
  }
  return rungs;
}

/** Step up only when the bitrate clears the better rung's need by this much: no flapping at an edge. */
export const STEP_UP_MARGIN = 1.25;

/**
 * The rung a target bitrate buys, from the rung the feed is on: down at once when the bitrate falls
 * under the current rung's need, up one rung at a time and only with a margin. `bestAllowed` is the
 * best rung the feed may take whatever the bitrate (an encoder that overshoots its share on this
 * content is held below the rungs it cannot keep to; congestion/encoder-overshoot.ts).
 */
export function rungFor(
  policy: DegradationPolicy,
  current: number,
  targetKbps: number,
  bestAllowed = 0,
): number {
  const last = Math.max(0, policy.ladder.length - 1);
  return Math.max(rungForBitrate(policy, current, targetKbps), Math.min(Math.max(0, bestAllowed), last));
}

/**
 * The best rung a target bitrate buys from the current one, however many rungs up: `rungFor` applied
 * until it stops climbing (each rung with the margin). What a step-up hold (congestion/step-hold.ts)
 * watches, so that a feed at the bottom of its ladder climbs in one step once the share has held.
 */
export function climbRung(
  policy: DegradationPolicy,
  current: number,
  targetKbps: number,
  bestAllowed = 0,
): number {
  let rung = rungFor(policy, current, targetKbps, bestAllowed);
  for (let climbed = 0; climbed < policy.ladder.length; climbed += 1) {
    const next = rungFor(policy, rung, targetKbps, bestAllowed);
    if (next >= rung) break;
    rung = next;
  }
  return rung;
}

function rungForBitrate(policy: DegradationPolicy, current: number, targetKbps: number): number {
  const last = policy.ladder.length - 1;
  let index = Math.min(Math.max(0, current), last);
  while (index < last && targetKbps < (policy.ladder[index]?.minKbps ?? 0)) index += 1;
  if (index !== current) return index;
  const better = policy.ladder[index - 1];
  if (better && targetKbps >= better.minKbps * STEP_UP_MARGIN) return index - 1;
  return index;
}

export function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
