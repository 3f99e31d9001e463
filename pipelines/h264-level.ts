import type { H264Profile } from "./encoders.js";

/**
 * H.264 levels of ITU-T H.264 Table A-1, lowest first, from 3.1: the level most browsers and hubs assume
 * (`42e01f`), enough up to 720p30. Limits: frame size and decoding rate in macroblocks (16×16 pixels), and
 * the Baseline bitrate.
 */
const LEVELS = [
  { name: "3.1", idc: 31, maxFrameMbs: 3_600, maxMbsPerSecond: 108_000, maxKbps: 14_000 },
  { name: "3.2", idc: 32, maxFrameMbs: 5_120, maxMbsPerSecond: 216_000, maxKbps: 20_000 },
  { name: "4", idc: 40, maxFrameMbs: 8_192, maxMbsPerSecond: 245_760, maxKbps: 20_000 },
  { name: "4.1", idc: 41, maxFrameMbs: 8_192, maxMbsPerSecond: 245_760, maxKbps: 50_000 },
  { name: "4.2", idc: 42, maxFrameMbs: 8_704, maxMbsPerSecond: 522_240, maxKbps: 50_000 },
  { name: "5", idc: 50, maxFrameMbs: 22_080, maxMbsPerSecond: 589_824, maxKbps: 135_000 },
  { name: "5.1", idc: 51, maxFrameMbs: 36_864, maxMbsPerSecond: 983_040, maxKbps: 240_000 },
  { name: "5.2", idc: 52, maxFrameMbs: 36_864, maxMbsPerSecond: 2_073_600, maxKbps: 240_000 },
] as const;

export interface H264Level {
  /** As GStreamer's caps name it (`level=(string)4`). */
  name: string;
  /** The SDP `profile-level-id`: the profile (Constrained Baseline 42e0, Main 4d00, High 6400) and the level. */
  profileLevelId: string;
}

/** profile_idc and the constraint flags, as the first four hex digits of `profile-level-id`. */
const PROFILE_PREFIX: Readonly<Record<H264Profile, string>> = {
  "constrained-baseline": "42e0",
  main: "4d00",
  high: "6400",
};

export interface LevelInputs {
  width: number;
  height: number;
  framerate: number;
  bitrateKbps: number;
}

/**
 * The lowest level that carries the feed, so that what the SDP announces is what the encoder sends: a hub
 * may refuse, or a decoder mis-size, a stream above its announced level.
 */
export function h264Level(feed: LevelInputs, profile: H264Profile = "constrained-baseline"): H264Level {
  const frameMbs = Math.ceil(feed.width / 16) * Math.ceil(feed.height / 16);
  const fits = (level: (typeof LEVELS)[number]) =>
    frameMbs <= level.maxFrameMbs &&
    frameMbs * feed.framerate <= level.maxMbsPerSecond &&
    feed.bitrateKbps <= level.maxKbps;
  // The config's largest feed (3840×2160 at 60 fps, 20 Mbit/s) fits 5.2: the fallback is never taken.
  const level = LEVELS.find(fits) ?? LEVELS[7];
  return {
    name: level.name,
    profileLevelId: `${PROFILE_PREFIX[profile]}${level.idc.toString(16).padStart(2, "0")}`,
  };
}
