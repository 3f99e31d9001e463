import { describe, expect, it } from "vitest";
import { FIT_HOLD_MS, MAX_FIT_HOLD_MS } from "../../agent/core/congestion/encoder-overshoot.js";
import { allocate, createOvershootGuard, type FeedDemand } from "../../agent/core/congestion/index.js";
import {
  buildLadder,
  type DegradationPolicy,
  type Keep,
  type Mode,
  rungFor,
} from "../../agent/core/profiles.js";

const LAST = 4;

/** Feeds the guard one sample a second from `fromMs` for `seconds`, at a fixed sent rate; returns the limits. */
function run(
  guard: ReturnType<typeof createOvershootGuard>,
  fromMs: number,
  seconds: number,
  sample: { sentKbps: number | undefined; shareKbps: number; step: () => number },
): number[] {
  const limits: number[] = [];
  for (let s = 0; s < seconds; s += 1) {
    limits.push(
      guard.update({
        nowMs: fromMs + s * 1000,
        sentKbps: sample.sentKbps,
        shareKbps: sample.shareKbps,
        step: sample.step(),
        lastStep: LAST,
      }),
    );
  }
  return limits;
}

describe("an encoder that overshoots its share", () => {
  it("is held one rung lower once its output stays above 1.25× its share for 2 s", () => {
    const guard = createOvershootGuard();
    // 1.1 Mbit/s sent against 590: the first sample starts the clock, the third is 2 s on.
    expect(run(guard, 0, 3, { sentKbps: 1100, shareKbps: 590, step: () => 1 })).toEqual([0, 0, 2]);
    expect(guard.bestAllowed()).toBe(2);
  });

  it("is left alone when the excess is short (a keyframe, a new target) or small", () => {
    const guard = createOvershootGuard();
    const trace = [1100, 1100, 600, 1100, 1100, 600, 700, 700, 700, 700];
    const limits = trace.map((sentKbps, s) =>
      guard.update({ nowMs: s * 1000, sentKbps, shareKbps: 590, step: 0, lastStep: LAST }),
    );
    expect(limits.every((limit) => limit === 0)).toBe(true);
  });

  it("does not judge while the sent rate is unknown, nor below the ladder's last rung", () => {
    const guard = createOvershootGuard();
    expect(run(guard, 0, 5, { sentKbps: undefined, shareKbps: 590, step: () => 0 })).toEqual([0, 0, 0, 0, 0]);
    expect(run(guard, 5000, 5, { sentKbps: 2000, shareKbps: 590, step: () => LAST })).toEqual([
      0, 0, 0, 0, 0,
    ]);
  });

  it("steps down again from the new rung if it still overshoots there, judged afresh after the change", () => {
    const guard = createOvershootGuard();
    let step = 0;
    const limits: number[] = [];
    for (let s = 0; s < 8; s += 1) {
      const best = guard.update({ nowMs: s * 1000, sentKbps: 1500, shareKbps: 590, step, lastStep: LAST });
      limits.push(best);
      step = Math.max(step, best); // the steering moves the feed to the limit
    }
    // Down at 2 s, then the new rung gets its own 2 s (it is first seen at 3 s): down again at 5 s.
    expect(limits).toEqual([0, 0, 1, 1, 1, 2, 2, 2]);
  });

  it("lets it climb back one rung only after its output fitted for the hold time", () => {
    const guard = createOvershootGuard();
    run(guard, 0, 3, { sentKbps: 1100, shareKbps: 590, step: () => 1 });
    expect(guard.bestAllowed()).toBe(2);
    const seconds = FIT_HOLD_MS / 1000;
    // At the lower rung the output fits: the limit holds for the hold time, then lifts by one.
    const limits = run(guard, 3000, seconds + 1, { sentKbps: 560, shareKbps: 590, step: () => 2 });
    expect(limits.slice(0, seconds)).toEqual(Array(seconds).fill(2));
    expect(limits.at(-1)).toBe(1);
  });

  it("output between fitting and overshooting neither steps down nor counts towards climbing back", () => {
    const guard = createOvershootGuard();
    run(guard, 0, 3, { sentKbps: 1100, shareKbps: 590, step: () => 1 });
    expect(run(guard, 3000, 30, { sentKbps: 700, shareKbps: 590, step: () => 2 }).at(-1)).toBe(2);
  });

  it("waits twice as long before the next climb when the better rung overshot again soon after", () => {
    const guard = createOvershootGuard();
    let now = 0;
    const phase = (seconds: number, sentKbps: number, step: number) => {
      const limits = run(guard, now, seconds, { sentKbps, shareKbps: 590, step: () => step });
      now += seconds * 1000;
      return limits.at(-1);
    };
    phase(3, 1100, 1); // down to 2
    expect(phase(FIT_HOLD_MS / 1000 + 1, 560, 2)).toBe(1); // fits: back to 1 after the hold
    expect(phase(3, 1100, 1)).toBe(2); // rung 1 overshoots again at once
    // Now the hold is doubled: not lifted after one hold, lifted after two.
    expect(phase(FIT_HOLD_MS / 1000 + 1, 560, 2)).toBe(2);
    expect(phase(FIT_HOLD_MS / 1000, 560, 2)).toBe(1);
  });

  it("never holds longer than the longest hold, however often it flaps", () => {
    const guard = createOvershootGuard();
    let now = 0;
    const holds: number[] = [];
    for (let round = 0; round < 6; round += 1) {
      run(guard, now, 3, { sentKbps: 1100, shareKbps: 590, step: () => 1 });
      now += 3000;
      // Fits at the lower rung until the limit lifts, then the better rung overshoots at once.
      let waited = 0;
      while (guard.update({ nowMs: now, sentKbps: 560, shareKbps: 590, step: 2, lastStep: LAST }) === 2) {
        now += 1000;
        waited += 1000;
      }
      holds.push(waited);
    }
    expect(holds).toEqual([10_000, 20_000, 40_000, 80_000, 80_000, 80_000]);
    expect(Math.max(...holds)).toBe(MAX_FIT_HOLD_MS);
  });
});

function policy(mode: Mode, keep: Keep, bitsPerPixel: number, min: number, max: number): DegradationPolicy {
  return { keep, minBitrateKbps: min, maxBitrateKbps: max, ladder: buildLadder(mode, keep, bitsPerPixel) };
}

describe("the limit in the rung decision", () => {
  const HD30 = { width: 1280, height: 720, framerate: 30 };
  const ultrasound = policy(HD30, "framerate", 0.04, 300, 8000);
  const documentCamera = policy({ width: 1920, height: 1080, framerate: 15 }, "resolution", 0.02, 200, 6000);

  it("a bitrate that buys the full mode still gets no better than the limit, and the limit stays in the ladder", () => {
    expect(rungFor(ultrasound, 0, 8000)).toBe(0);
    expect(rungFor(ultrasound, 0, 8000, 1)).toBe(1);
    expect(rungFor(ultrasound, 3, 100, 1)).toBe(ultrasound.ladder.length - 1);
    expect(rungFor(ultrasound, 0, 8000, 99)).toBe(ultrasound.ladder.length - 1);
  });

  it("each role loses what its ladder gives up: ultrasound size, the document camera frame rate", () => {
    const feeds: FeedDemand[] = [
      { id: "us", role: "ultrasound", step: 0, policy: ultrasound, bestStep: 1 },
      { id: "doc", role: "document", step: 0, policy: documentCamera, bestStep: 1 },
    ];
    const [us, doc] = allocate(20_000, feeds);
    expect(us?.step).toBe(1);
    expect(doc?.step).toBe(1);
    const usRung = ultrasound.ladder[1];
    const docRung = documentCamera.ladder[1];
    expect(usRung?.framerate).toBe(30);
    expect(usRung?.height).toBeLessThan(720);
    expect(docRung?.height).toBe(1080);
    expect(docRung?.framerate).toBeLessThan(15);
    // The share is not cut for it: the encoder gets what the link allows, at fewer pixels or frames.
    expect(
      allocate(
        20_000,
        feeds.map(({ bestStep: _, ...feed }) => feed),
      )[0]?.bitrateKbps,
    ).toBe(us?.bitrateKbps);
  });
});
