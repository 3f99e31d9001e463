import { describe, expect, it } from "vitest";
import { createCongestionController, writeTransportFeedback } from "../../agent/core/congestion/index.js";
import { parseTransportFeedback } from "../../agent/core/congestion/transport-feedback.js";
import { fitSlope } from "../../agent/core/congestion/trendline.js";

/**
 * Recorded-style synthetic traces: frames sent every 33 ms (three 1200-byte packets 1 ms apart), their
 * one-way transit given per frame, fed back every 50 ms as feedback bytes. The detector's state at the
 * end of each phase is the expectation.
 */

interface Phase {
  frames: number;
  /** Transit change per frame, ms: + while a queue builds, − while it drains. */
  transitStepMs: number;
}

function runTrace(phases: readonly Phase[]) {
  const controller = createCongestionController({ minKbps: 100, maxKbps: 5_000 });
  const states: string[] = [];
  let sequence = 65_500; // crosses the 16-bit wrap on the way
  let transitMs = 30;
  let frame = 0;
  let pending: { sequence: number; arrivalUs: number }[] = [];
  let nextFeedbackUs = 50_000;
  const flush = (nowUs: number) => {
    if (pending.length === 0) return;
    const bytes = writeTransportFeedback({ senderSsrc: 1, mediaSsrc: 2, feedbackCount: 0, packets: pending });
    pending = [];
    const parsed = parseTransportFeedback(bytes);
    if (parsed.ok) controller.onTransportFeedback(parsed.value, nowUs);
  };
  for (const phase of phases) {
    for (let i = 0; i < phase.frames; i += 1, frame += 1) {
      const sendUs = Math.round((frame * 1e6) / 30);
      transitMs = Math.max(20, transitMs + phase.transitStepMs);
      for (let p = 0; p < 3; p += 1) {
        const at = sendUs + p * 1_000;
        controller.onPacketSent({ sequence: sequence & 0xffff, sendTimeUs: at, sizeBytes: 1_200 });
        pending.push({ sequence: sequence & 0xffff, arrivalUs: at + transitMs * 1_000 + 5_000_000 });
        sequence += 1;
      }
      if (sendUs >= nextFeedbackUs) {
        flush(sendUs + transitMs * 1_000);
        nextFeedbackUs += 50_000;
      }
    }
    states.push(controller.state(Math.round((frame * 1e6) / 30)).usage);
  }
  return { states, controller };
}

describe("delay-based over-use detection on synthetic traces", () => {
  it.each([
    ["a steady path", [{ frames: 150, transitStepMs: 0 }], ["normal"]],
    [
      "a queue building by 1 ms a frame (3 % over the link), for 2 s",
      [
        { frames: 90, transitStepMs: 0 },
        { frames: 60, transitStepMs: 1 },
      ],
      ["normal", "overusing"],
    ],
    [
      "the queue draining after it built",
      [
        { frames: 90, transitStepMs: 0 },
        { frames: 30, transitStepMs: 2 },
        { frames: 20, transitStepMs: -3 },
      ],
      ["normal", "overusing", "underusing"],
    ],
    [
      "one late frame is not congestion",
      [
        { frames: 90, transitStepMs: 0 },
        { frames: 1, transitStepMs: 25 },
        { frames: 1, transitStepMs: -25 },
        { frames: 60, transitStepMs: 0 },
      ],
      ["normal", "normal", "normal", "normal"],
    ],
  ] as const)("%s", (_name, phases, expected) => {
    expect(runTrace(phases).states).toEqual(expected);
  });

  it("cuts the rate on over-use, below what was delivered", () => {
    const { controller } = runTrace([
      { frames: 150, transitStepMs: 0 },
      { frames: 30, transitStepMs: 1.5 },
    ]);
    const state = controller.state(6_000_000);
    expect(state.probing).toBe(false);
    expect(state.delayBasedKbps).toBeLessThanOrEqual(0.86 * (state.deliveredKbps ?? 0) + 1);
  });

  it("fits a least-squares slope", () => {
    expect(fitSlope([0, 1, 2, 3].map((x) => ({ x, y: 2 * x + 1 })))).toBeCloseTo(2);
    expect(
      fitSlope([
        { x: 1, y: 1 },
        { x: 1, y: 5 },
      ]),
    ).toBeUndefined();
  });

  it("backs off when feedback stops coming", () => {
    const { controller } = runTrace([{ frames: 60, transitStepMs: 0 }]);
    const now = 2_000_000;
    const before = controller.targetBitrateKbps(now);
    expect(controller.targetBitrateKbps(now + 3_500_000)).toBeLessThan(before / 2);
    expect(controller.targetBitrateKbps(now + 60_000_000)).toBe(100);
  });
});
