import { describe, expect, it } from "vitest";
import { keyframeDelayMs, MIN_KEYFRAME_INTERVAL_MS } from "../../agent/core/keyframe-pacing.js";

describe("keyframe pacing", () => {
  it.each<[number | undefined, number, number]>([
    [undefined, 1_000, 0],
    [1_000, 1_000, MIN_KEYFRAME_INTERVAL_MS],
    [1_000, 1_200, MIN_KEYFRAME_INTERVAL_MS - 200],
    [1_000, 1_000 + MIN_KEYFRAME_INTERVAL_MS, 0],
    [1_000, 9_000, 0],
  ])("after a keyframe forced at %s ms, a request at %i ms waits %i ms", (last, now, expected) => {
    expect(keyframeDelayMs(last, now)).toBe(expected);
  });
});
