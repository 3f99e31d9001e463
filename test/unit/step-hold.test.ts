import { describe, expect, it } from "vitest";
import { createOvershootGuard } from "../../agent/core/congestion/encoder-overshoot.js";
import {
  createStepHold,
  MAX_STEP_UP_HOLD_MS,
  STEP_UP_HOLD_MS,
  UNDONE_WITHIN_MS,
} from "../../agent/core/congestion/index.js";
import {
  buildLadder,
  climbRung,
  type DegradationPolicy,
  type Keep,
  rungFor,
  STEP_UP_MARGIN,
} from "../../agent/core/profiles.js";

function policy(keep: Keep, bitsPerPixel: number): DegradationPolicy {
  const mode =
    keep === "resolution"
      ? { width: 1920, height: 1080, framerate: 15 }
      : { width: 1280, height: 720, framerate: 30 };
  return { keep, minBitrateKbps: 150, maxBitrateKbps: 8000, ladder: buildLadder(mode, keep, bitsPerPixel) };
}

const ultrasound = policy("framerate", 0.04);
const needs = ultrasound.ladder.map((rung) => rung.minKbps);
const upTo = (rung: number) => Math.ceil((needs[rung] ?? 0) * STEP_UP_MARGIN);

/** Runs a share trace (one value a second) through rungFor and the hold, as the steering does. */
function run(trace: readonly number[], start = 0, p = ultrasound) {
  const hold = createStepHold();
  let step = start;
  const steps: number[] = [];
  trace.forEach((kbps, second) => {
    step = hold.update({
      nowMs: second * 1000,
      current: step,
      next: rungFor(p, step, kbps),
      supported: climbRung(p, step, kbps),
    });
    steps.push(step);
  });
  return { steps, hold };
}

const repeat = (kbps: number, seconds: number) => Array<number>(seconds).fill(kbps);
const changes = (steps: readonly number[], start: number) =>
  steps.filter((step, i) => step !== (i === 0 ? start : steps[i - 1])).length;

describe("climbRung: the best rung a share buys, however far up", () => {
  it.each([
    ["plenty from the bottom: the full mode", 4, 100_000, 0],
    ["enough for rung 1 with the margin, from the bottom", 4, upTo(1), 1],
    ["just under rung 1's margin: rung 2", 4, upTo(1) - 1, 2],
    [
      "a share under the current rung's need: the rung rungFor steps down to",
      0,
      500,
      rungFor(ultrasound, 0, 500),
    ],
    ["the overshoot guard's limit caps it", 4, 100_000, 2, 2],
  ])("%s", (_, current, kbps, expected, best = 0) => {
    expect(climbRung(ultrasound, current, kbps, best)).toBe(expected);
  });
});

describe("step-up hold on a fake clock", () => {
  it("steps down at once, and up only after the share has bought the better rung for the hold", () => {
    const holdSeconds = STEP_UP_HOLD_MS / 1000;
    const { steps } = run([...repeat(upTo(0), 3), ...repeat(500, 3), ...repeat(upTo(0), holdSeconds + 2)]);
    // Seconds 0–2 at the full mode; 500 kbit/s drops it two rungs at once (second 3).
    expect(steps.slice(0, 4)).toEqual([0, 0, 0, rungFor(ultrasound, 0, 500)]);
    // The share is back at second 6; the step up comes `hold` seconds later, straight to the full mode.
    const upAt = steps.indexOf(0, 4);
    expect(upAt).toBe(6 + holdSeconds);
    expect(changes(steps, 0)).toBe(2);
  });

  it("an estimate swinging across a rung's edge every two seconds does not move the feed up", () => {
    // The bench's churn: 500–1050 kbit/s around 960 wide (rung 1 needs 622 kbit/s, 778 with the margin).
    const swing = Array.from({ length: 30 }, (_, s) => (Math.floor(s / 2) % 2 === 0 ? 1050 : 600));
    const before = swing.reduce<number[]>((steps, kbps) => {
      steps.push(rungFor(ultrasound, steps.at(-1) ?? 2, kbps));
      return steps;
    }, []);
    const { steps } = run(swing, 2);
    expect(changes(before, 2)).toBe(15);
    expect(steps).toEqual(repeat(2, 30));
  });

  it("a step up undone soon doubles the hold, up to the cap; one that lasted sets it back", () => {
    const hold = createStepHold();
    let now = 0;
    let step = 1;
    const holdUp = () => {
      // The share buys rung 0 until the hold lets it up.
      while (step === 1) {
        step = hold.update({ nowMs: now, current: 1, next: 1, supported: 0 });
        now += 1000;
      }
    };
    const down = (after: number) => {
      now += after;
      step = hold.update({ nowMs: now, current: 0, next: 1, supported: 1 });
      expect(step).toBe(1);
    };
    const holds: number[] = [];
    for (let round = 0; round < 6; round += 1) {
      holds.push(hold.holdMs());
      holdUp();
      down(2000);
    }
    expect(holds).toEqual([6000, 12_000, 24_000, 48_000, 48_000, 48_000]);
    expect(hold.holdMs()).toBe(MAX_STEP_UP_HOLD_MS);
    holdUp();
    down(UNDONE_WITHIN_MS);
    expect(hold.holdMs()).toBe(STEP_UP_HOLD_MS);
  });

  it("a break in the share's support starts the hold again", () => {
    const holdSeconds = STEP_UP_HOLD_MS / 1000;
    const almost = repeat(upTo(0), holdSeconds - 1);
    const { steps } = run([...almost, needs[1] ?? 0, ...almost, needs[1] ?? 0], 1);
    expect(steps.every((step) => step === 1)).toBe(true);
  });

  it("keeps each role's ladder: ultrasound keeps its frame rate, the document camera its size", () => {
    const doc = policy("resolution", 0.02);
    for (const p of [ultrasound, doc]) {
      const { steps } = run([...repeat(10, 3), ...repeat(100_000, 10)], 0, p);
      const worst = Math.max(...steps);
      expect(worst).toBe(p.ladder.length - 1);
      expect(steps.at(-1)).toBe(0);
      const top = p.ladder[0];
      const bottom = p.ladder[worst];
      if (p === ultrasound) expect(bottom?.framerate).toBe(top?.framerate);
      else expect(bottom?.width).toBe(1920 / 2);
      expect(changes(steps, 0)).toBe(2);
    }
  });

  it("works with the overshoot guard: its limit steps down at once, and its lift waits for the hold too", () => {
    const guard = createOvershootGuard();
    const hold = createStepHold();
    const last = ultrasound.ladder.length - 1;
    let step = 0;
    const share = 4000;
    const trace: number[] = [];
    for (let second = 0; second < 40; second += 1) {
      const nowMs = second * 1000;
      // x264 sends twice its share at the full mode for the first seconds, then keeps to it.
      const sentKbps = step === 0 && second < 10 ? share * 2 : share;
      const best = guard.update({ nowMs, sentKbps, shareKbps: share, step, lastStep: last });
      step = hold.update({
        nowMs,
        current: step,
        next: rungFor(ultrasound, step, share, best),
        supported: climbRung(ultrasound, step, share, best),
      });
      trace.push(step);
    }
    // The guard holds it at rung 1 from second 2; after its lift the hold keeps it there a while more.
    expect(trace[2]).toBe(1);
    const backUp = trace.indexOf(0, 3);
    expect(backUp).toBeGreaterThan(12 + STEP_UP_HOLD_MS / 1000 - 1);
    expect(trace.at(-1)).toBe(0);
  });
});
