import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PacedSender } from "../../agent/adapters/webrtc/paced-sender.js";

/** The pacer's timer half on vitest's fake clock: what leaves when, through the one `send`. */

describe("PacedSender", () => {
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => vi.useRealTimers());

  const sender = (targetKbps: number, sent: { item: number; atMs: number }[], errors: unknown[] = []) =>
    new PacedSender<number>({
      send: (item) => {
        if (item < 0) throw new Error("socket gone");
        sent.push({ item, atMs: Date.now() });
      },
      targetKbps: () => targetKbps,
      onKeyframeNeeded: () => undefined,
      onSendError: (error) => errors.push(error),
      nowUs: () => Date.now() * 1000,
    });

  it("sends a keyframe burst over ~150 ms from its timer, in order, and stops when closed", () => {
    const sent: { item: number; atMs: number }[] = [];
    const paced = sender(1_000, sent);
    const start = Date.now();
    for (let i = 0; i < 40; i += 1)
      paced.push({ item: i, sizeBytes: 1_200, kind: "video", keyframeStart: i === 0 });
    const atOnce = sent.length;
    expect(atOnce).toBeGreaterThan(0);
    expect(atOnce).toBeLessThanOrEqual(5);
    vi.advanceTimersByTime(100);
    expect(sent.length).toBeLessThan(40);
    vi.advanceTimersByTime(200);
    expect(sent.map((s) => s.item)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect((sent.at(-1)?.atMs ?? 0) - start).toBeGreaterThan(120);
    paced.push({ item: 99, sizeBytes: 60_000, kind: "video", keyframeStart: false });
    paced.push({ item: 100, sizeBytes: 1_200, kind: "video", keyframeStart: false });
    paced.close();
    const before = sent.length;
    vi.advanceTimersByTime(1_000);
    expect(sent.length).toBe(before);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("reports a send that throws and still sends what follows", () => {
    const sent: { item: number; atMs: number }[] = [];
    const errors: unknown[] = [];
    const paced = sender(10_000, sent, errors);
    paced.push({ item: -1, sizeBytes: 100, kind: "video", keyframeStart: false });
    paced.push({ item: 2, sizeBytes: 100, kind: "video", keyframeStart: false });
    vi.advanceTimersByTime(50);
    expect(errors).toHaveLength(1);
    expect(sent.map((s) => s.item)).toEqual([2]);
    paced.close();
  });
});
