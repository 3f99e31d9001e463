import { describe, expect, it } from "vitest";
import {
  deliveredKbps,
  firstWindowAtShare,
  meanQueueDelayUs,
  meanTargetKbps,
  type SimulationTrace,
  simulate,
} from "../helpers/link-simulator.js";

/** The controller against a simulated bottleneck: a `tbf`-like queue of 50 kB, 20 ms each way. */

const S = 1_000_000;
const FEED = { minKbps: 150, maxKbps: 6_000 };
const link = (rateKbps: (timeUs: number) => number, extra: { randomLoss?: number; seed?: number } = {}) => ({
  rateKbps,
  queueBytes: 50_000,
  propagationUs: 20_000,
  ...extra,
});

/** When, from `fromUs`, the queue has drained (mean wait under 50 ms over 500 ms) and the target is at most `kbps`. */
function settledDownAt(trace: SimulationTrace, fromUs: number, kbps: number): number | undefined {
  for (let start = fromUs; start < fromUs + 20 * S; start += 100_000) {
    const target = trace.targets.find((t) => t.timeUs >= start)?.kbps ?? Number.POSITIVE_INFINITY;
    if (target <= kbps && meanQueueDelayUs(trace, start, start + 500_000) < 50_000) return start;
  }
  return undefined;
}

describe("congestion control on a simulated bottleneck", () => {
  it("fills a 1 Mbit/s link to ≥ 80 % within 10 s, with a bounded queue that does not creep", () => {
    const trace = simulate({ durationUs: 60 * S, link: link(() => 1_000), controller: FEED });
    expect(firstWindowAtShare(trace, 0, 60 * S, 1_000, 0.8)).toBeLessThanOrEqual(10 * S);
    expect(deliveredKbps(trace, 10 * S, 60 * S)).toBeGreaterThanOrEqual(800);
    const earlier = meanQueueDelayUs(trace, 40 * S, 50 * S);
    const later = meanQueueDelayUs(trace, 50 * S, 60 * S);
    expect(later).toBeLessThan(50_000);
    expect(later).toBeLessThanOrEqual(earlier + 10_000);
    // No packet lost in steady state: the queue never overflows once converged.
    const lost = trace.packets.filter((p) => p.sendUs >= 10 * S && p.arrivalUs === undefined);
    expect(lost).toEqual([]);
  });

  it("follows a step from 4 to 1 Mbit/s and back within a few seconds each way", () => {
    const rate = (timeUs: number) => (timeUs < 20 * S || timeUs >= 40 * S ? 4_000 : 1_000);
    const trace = simulate({ durationUs: 70 * S, link: link(rate), controller: FEED });
    expect(firstWindowAtShare(trace, 0, 20 * S, 4_000, 0.8)).toBeLessThanOrEqual(5 * S);
    const down = settledDownAt(trace, 20 * S, 1_000);
    expect(down).toBeDefined();
    expect((down ?? Number.POSITIVE_INFINITY) - 20 * S).toBeLessThanOrEqual(3 * S);
    expect(deliveredKbps(trace, 25 * S, 40 * S)).toBeGreaterThanOrEqual(800);
    const up = firstWindowAtShare(trace, 40 * S, 70 * S, 4_000, 0.8);
    expect((up ?? Number.POSITIVE_INFINITY) - 40 * S).toBeLessThanOrEqual(5 * S);
    expect(meanQueueDelayUs(trace, 50 * S, 70 * S)).toBeLessThan(50_000);
  });

  it("does not collapse under 5 % random loss", () => {
    const trace = simulate({
      durationUs: 60 * S,
      link: link(() => 1_000, { randomLoss: 0.05, seed: 7 }),
      controller: FEED,
    });
    expect(meanTargetKbps(trace, 20 * S, 60 * S)).toBeGreaterThanOrEqual(750);
    expect(deliveredKbps(trace, 20 * S, 60 * S)).toBeGreaterThanOrEqual(700);
  });

  it("keeps under a REMB of 500 kbit/s on a 2 Mbit/s link", () => {
    const trace = simulate({
      durationUs: 30 * S,
      link: link(() => 2_000),
      controller: FEED,
      remb: { fromUs: 0, bitrateBps: 500_000 },
    });
    const after = trace.targets.filter((t) => t.timeUs >= 1 * S).map((t) => t.kbps);
    expect(Math.max(...after)).toBeLessThanOrEqual(500);
    expect(meanTargetKbps(trace, 5 * S, 30 * S)).toBeGreaterThanOrEqual(450);
  });

  it("starts conservatively and never leaves the feed's floor and ceiling", () => {
    const trace = simulate({
      durationUs: 20 * S,
      link: link(() => 8_000),
      controller: { minKbps: 300, maxKbps: 2_000 },
    });
    expect(trace.targets[0]?.kbps).toBe(300);
    const all = trace.targets.map((t) => t.kbps);
    expect(Math.min(...all)).toBeGreaterThanOrEqual(300);
    expect(Math.max(...all)).toBeLessThanOrEqual(2_000);
    expect(meanTargetKbps(trace, 10 * S, 20 * S)).toBeGreaterThan(1_900);
  });
});

describe("application-limited feeds and loss seen only in the feedback", () => {
  it("lets a still picture's target rise towards the profile bitrate, then re-measures when it gets busy", () => {
    // 300 kbit/s of picture for 20 s on a 1 Mbit/s link, then content that fills any bitrate.
    const trace = simulate({
      durationUs: 40 * S,
      link: link(() => 1_000),
      controller: { ...FEED, profileKbps: 2_000 },
      contentKbps: (timeUs) => (timeUs < 20 * S ? 300 : 100_000),
    });
    const before = trace.targets.findLast((t) => t.timeUs < 20 * S);
    // Held by what was delivered it would stay near 500 kbit/s; application-limited it rises, not past the profile.
    expect(before?.kbps).toBeGreaterThan(1_500);
    expect(before?.kbps).toBeLessThanOrEqual(2_000);
    expect(before?.state.applicationLimited).toBe(true);
    const down = settledDownAt(trace, 20 * S, 1_000);
    expect((down ?? Number.POSITIVE_INFINITY) - 20 * S).toBeLessThanOrEqual(3 * S);
    expect(deliveredKbps(trace, 25 * S, 40 * S)).toBeGreaterThanOrEqual(800);
  });

  it("does not call a feed application-limited while it follows a rising target", () => {
    const trace = simulate({ durationUs: 20 * S, link: link(() => 1_000), controller: FEED });
    const limited = trace.targets.filter((t) => t.timeUs >= 5 * S && t.state.applicationLimited);
    expect(limited).toEqual([]);
  });

  it("backs off on loss the receiver reports hide (repaired by retransmission) but the feedback shows", () => {
    // A shallow queue (5 kB) overflows before the delay trend shows: only loss tells.
    const trace = simulate({
      durationUs: 40 * S,
      link: { rateKbps: () => 1_000, queueBytes: 5_000, propagationUs: 20_000 },
      controller: FEED,
      reportsHideLoss: true,
    });
    const sent = trace.packets.filter((p) => p.sendUs >= 10 * S);
    const lost = sent.filter((p) => p.arrivalUs === undefined);
    expect(lost.length / sent.length).toBeLessThan(0.05);
    expect(deliveredKbps(trace, 10 * S, 40 * S)).toBeGreaterThanOrEqual(700);
  });
});
