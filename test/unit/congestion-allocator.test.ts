import { describe, expect, it } from "vitest";
import { allocate, type FeedDemand } from "../../agent/core/congestion/index.js";
import { buildLadder, type DegradationPolicy, type Keep, type Mode } from "../../agent/core/profiles.js";

function policy(mode: Mode, keep: Keep, bitsPerPixel: number, min: number, max: number): DegradationPolicy {
  return { keep, minBitrateKbps: min, maxBitrateKbps: max, ladder: buildLadder(mode, keep, bitsPerPixel) };
}

const HD30 = { width: 1280, height: 720, framerate: 30 };
// The roles' defaults (profiles.ts): floors 300/150/200, ceilings 8000/4000/6000.
const ultrasound: FeedDemand = {
  id: "us",
  role: "ultrasound",
  step: 0,
  policy: policy(HD30, "framerate", 0.04, 300, 8000),
};
const camera: FeedDemand = {
  id: "cam",
  role: "camera",
  step: 0,
  policy: policy(HD30, "balanced", 0.035, 150, 4000),
};
const documentCamera: FeedDemand = {
  id: "doc",
  role: "document",
  step: 0,
  policy: policy({ width: 1920, height: 1080, framerate: 15 }, "resolution", 0.02, 200, 6000),
};
// Listed lowest priority first: the allocator orders by role, the answer keeps the input order.
const feeds = [documentCamera, camera, ultrasound];

const modeOf = (feed: FeedDemand, step: number) => feed.policy.ladder[step];
const sum = (allocations: { bitrateKbps: number }[]) => allocations.reduce((a, b) => a + b.bitrateKbps, 0);

describe("sharing the estimate among a site's feeds", () => {
  it("at 1 Mbit/s for three feeds: ultrasound keeps its frame rate smaller, the document its size slower", () => {
    const result = allocate(1_000, feeds);
    expect(result.map((r) => r.id)).toEqual(["doc", "cam", "us"]);
    const [doc, cam, us] = result;
    expect(us).toEqual({ id: "us", bitrateKbps: 650, step: 1 });
    expect(modeOf(ultrasound, us?.step ?? 0)).toMatchObject({ width: 960, height: 540, framerate: 30 });
    expect(doc?.bitrateKbps).toBe(200);
    expect(modeOf(documentCamera, doc?.step ?? 0)).toMatchObject({ width: 1920, height: 1080, framerate: 2 });
    expect(cam?.bitrateKbps).toBe(150);
    expect(sum(result)).toBeLessThanOrEqual(1_000);
  });

  it.each([
    // total, site budget, expected [doc, cam, us]
    [100, undefined, [200, 150, 300]],
    [650, undefined, [200, 150, 300]],
    [1_200, undefined, [200, 150, 850]],
    [5_000, 2_000, [200, 417, 1_383]],
    [3_000, undefined, [407, 1_210, 1_383]],
    [20_000, undefined, [6_000, 4_000, 8_000]],
    [Number.NaN, undefined, [200, 150, 300]],
  ])("total %d kbit/s, site budget %s → %j", (total, budget, expected) => {
    const result = allocate(total, feeds, budget);
    expect(result.map((r) => r.bitrateKbps)).toEqual(expected);
    // Floors always, ceilings never passed.
    for (const [index, feed] of feeds.entries()) {
      const given = result[index]?.bitrateKbps ?? 0;
      expect(given).toBeGreaterThanOrEqual(feed.policy.minBitrateKbps);
      expect(given).toBeLessThanOrEqual(feed.policy.maxBitrateKbps);
    }
  });

  it("keeps within the site budget whenever the budget covers the floors", () => {
    for (const budget of [650, 900, 1_500, 2_500, 4_000, 10_000]) {
      expect(sum(allocate(50_000, feeds, budget))).toBeLessThanOrEqual(budget);
    }
  });

  it("steps back up only with the margin, one step at a time", () => {
    const onStep2 = { ...ultrasound, step: 2 };
    const need = ultrasound.policy.ladder[1]?.minKbps ?? 0;
    expect(allocate(need + 10, [onStep2])[0]?.step).toBe(2);
    expect(allocate(Math.ceil(need * 1.25), [onStep2])[0]?.step).toBe(1);
  });
});
