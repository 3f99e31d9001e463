import { describe, expect, it } from "vitest";
import {
  AUDIO_SILENT_AFTER_MS,
  audioFlowing,
  parseLevelRms,
  SILENCE_DB,
} from "../../agent/core/audio-level.js";

describe("the level meter's reading", () => {
  it("takes the RMS as gstreamer-superficial hands it over: a serialised value array", () => {
    expect(parseLevelRms("< -16.989700 >")).toBe(-17);
    expect(parseLevelRms("< -30.04, -19.96 >")).toBe(-20);
  });

  it("reads digital silence as the floor, and refuses what holds no level", () => {
    expect(parseLevelRms("< -inf >")).toBe(SILENCE_DB);
    expect(parseLevelRms("< -350.5 >")).toBe(SILENCE_DB);
    expect(parseLevelRms("< >")).toBeUndefined();
    expect(parseLevelRms("garbage")).toBeUndefined();
    expect(parseLevelRms(undefined)).toBeUndefined();
  });

  it("says sound flows while the meter keeps reporting", () => {
    expect(audioFlowing(undefined, 10_000)).toBe(false);
    expect(audioFlowing(10_000, 10_000 + AUDIO_SILENT_AFTER_MS)).toBe(true);
    expect(audioFlowing(10_000, 10_001 + AUDIO_SILENT_AFTER_MS)).toBe(false);
  });
});
