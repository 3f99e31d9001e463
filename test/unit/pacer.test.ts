import { describe, expect, it } from "vitest";
import { createPacer, type PacedPacket, type Pacer, startsKeyframe } from "../../agent/core/pacer.js";

/**
 * The pacer on a fake clock: packets arrive at given times, and the "timer" wakes exactly when the
 * pacer says the next one may leave (or at the next arrival), as the adapter's would.
 */

interface Arrival {
  atUs: number;
  packet: PacedPacket<number>;
}

const video = (item: number, sizeBytes = 1_200, keyframeStart = false): PacedPacket<number> => ({
  item,
  sizeBytes,
  kind: "video",
  keyframeStart,
});

function run(pacer: Pacer<number>, arrivals: Arrival[], untilUs: number, wakeEveryUs?: number) {
  const departures: { item: number; atUs: number }[] = [];
  const pending = [...arrivals].sort((a, b) => a.atUs - b.atUs);
  let nowUs = 0;
  while (nowUs <= untilUs) {
    while ((pending[0]?.atUs ?? Number.POSITIVE_INFINITY) <= nowUs) {
      const next = pending.shift();
      if (next) pacer.enqueue(next.packet, nowUs);
    }
    for (const item of pacer.take(nowUs)) departures.push({ item, atUs: nowUs });
    const wake = wakeEveryUs === undefined ? pacer.nextSendUs(nowUs) : nowUs + wakeEveryUs;
    const arrival = pending[0]?.atUs;
    const next = Math.min(wake ?? Number.POSITIVE_INFINITY, arrival ?? Number.POSITIVE_INFINITY);
    if (!Number.isFinite(next)) break;
    // A real timer fires no sooner than 1 ms.
    nowUs = Math.max(nowUs + 1_000, Math.ceil(next));
  }
  return departures;
}

describe("pacer", () => {
  it("spreads a keyframe over time at 2.5 × the target instead of one burst", () => {
    const pacer = createPacer<number>();
    pacer.setTargetKbps(1_000);
    const keyframe = Array.from({ length: 40 }, (_, i) => ({ atUs: 0, packet: video(i, 1_200, i === 0) }));
    const out = run(pacer, keyframe, 1_000_000);
    expect(out.map((d) => d.item)).toEqual(keyframe.map((k) => k.packet.item));
    // 48 kB at 2.5 Mbit/s is about 154 ms; a burst of 10 ms of the pace may leave at once.
    expect(out.filter((d) => d.atUs <= 10_000).length).toBeLessThanOrEqual(5);
    const last = out.at(-1)?.atUs ?? 0;
    expect(last).toBeGreaterThan(130_000);
    expect(last).toBeLessThan(180_000);
  });

  it("keeps its pace when its timer fires late: what waited meanwhile leaves at once", () => {
    const keyframe = Array.from({ length: 40 }, (_, i) => ({ atUs: 0, packet: video(i, 1_200, i === 0) }));
    const onTime = createPacer<number>();
    onTime.setTargetKbps(1_000);
    const late = createPacer<number>();
    late.setTargetKbps(1_000);
    // A busy event loop: the timer comes every 40 ms, four bursts' worth, whatever the pacer asked for.
    const lastOnTime = run(onTime, keyframe, 1_000_000).at(-1)?.atUs ?? 0;
    const lastLate = run(late, keyframe, 1_000_000, 40_000).at(-1)?.atUs ?? 0;
    expect(lastLate).toBeLessThanOrEqual(lastOnTime + 40_000);
  });

  it("paces at a multiple of the target", () => {
    const pacer = createPacer<number>({ pacingFactor: 2 });
    pacer.setTargetKbps(4_000);
    const out = run(
      pacer,
      Array.from({ length: 60 }, (_, i) => ({ atUs: 0, packet: video(i) })),
      1_000_000,
    );
    // 72 kB at 8 Mbit/s: 72 ms.
    const last = out.at(-1)?.atUs ?? 0;
    expect(last).toBeGreaterThan(60_000);
    expect(last).toBeLessThan(80_000);
  });

  it("lets an unhurried stream through as it comes", () => {
    const pacer = createPacer<number>();
    pacer.setTargetKbps(1_000);
    // 30 frames a second of three packets 1 ms apart: 864 kbit/s.
    const arrivals = Array.from({ length: 90 }, (_, i) => ({
      atUs: Math.floor(i / 3) * 33_333 + (i % 3) * 1_000,
      packet: video(i),
    }));
    const out = run(pacer, arrivals, 2_000_000);
    const waits = out.map((d) => d.atUs - (arrivals[d.item]?.atUs ?? 0));
    // At most a packet or two at the pace (3.8 ms each at 2.5 Mbit/s): no frame waits for the next.
    expect(Math.max(...waits)).toBeLessThanOrEqual(8_000);
    expect(out).toHaveLength(arrivals.length);
  });

  it("bounds the queue delay when the encoder sends far more than the target", () => {
    const pacer = createPacer<number>();
    pacer.setTargetKbps(300);
    // 2 Mbit/s for 3 s in 33 ms frames of seven packets, with a 40-packet keyframe at 1 s.
    const arrivals: Arrival[] = [];
    let item = 0;
    for (let frame = 0; frame < 90; frame += 1) {
      const packets = frame === 30 ? 40 : 7;
      for (let p = 0; p < packets; p += 1) {
        arrivals.push({ atUs: frame * 33_333, packet: video(item, 1_200, frame === 30 && p === 0) });
        item += 1;
      }
    }
    const out = run(pacer, arrivals, 5_000_000);
    expect(out).toHaveLength(arrivals.length);
    const waits = out.map((d) => d.atUs - (arrivals[d.item]?.atUs ?? 0));
    expect(Math.max(...waits)).toBeLessThanOrEqual(300_000);
    expect(pacer.stats().droppedPackets).toBe(0);
  });

  it("drops queued video up to the next keyframe when it has waited too long, and asks for one", () => {
    // A pace below what comes in and no drain rule: the queue can only grow older.
    const pacer = createPacer<number>({ dropAfterUs: 500_000, pacingFactor: 0.5, maxQueueDelayUs: Infinity });
    pacer.setTargetKbps(100);
    const arrivals = Array.from({ length: 300 }, (_, i) => ({ atUs: i * 3_333, packet: video(i) }));
    run(pacer, arrivals, 1_100_000, 50_000);
    expect(pacer.takeKeyframeRequest()).toBe(true);
    expect(pacer.takeKeyframeRequest()).toBe(false);
    const dropped = pacer.stats().droppedPackets;
    expect(dropped).toBeGreaterThan(0);
    // Delta packets after the drop are useless to the decoder until the keyframe.
    pacer.enqueue(video(1000), 1_110_000);
    pacer.enqueue(video(1001, 1_200, true), 1_120_000);
    pacer.enqueue(video(1002), 1_121_000);
    const sent = [...pacer.take(1_130_000), ...pacer.take(1_140_000)];
    expect(sent).toEqual([1001, 1002]);
    expect(pacer.stats().droppedPackets).toBe(dropped + 1);
  });

  it("keeps a queued keyframe and what follows it when dropping", () => {
    const pacer = createPacer<number>({
      dropAfterUs: 500_000,
      pacingFactor: 0.01,
      maxQueueDelayUs: Infinity,
    });
    pacer.setTargetKbps(1);
    pacer.take(0);
    // Taken every 50 ms (no stall), but hardly anything may leave.
    for (let i = 0; i < 10; i += 1) {
      pacer.enqueue(video(i, 1_200, i === 6), i * 80_000);
      pacer.take(i * 80_000 + 40_000);
    }
    const sent = pacer.take(800_000);
    expect(pacer.stats().droppedPackets).toBeGreaterThan(0);
    expect(pacer.takeKeyframeRequest()).toBe(true);
    expect(sent.every((item) => item >= 6)).toBe(true);
    expect(pacer.stats().queuedPackets + sent.length).toBe(4);
  });

  it("after a stalled event loop sends what waited, late, instead of dropping it", () => {
    const pacer = createPacer<number>({ dropAfterUs: 500_000 });
    pacer.setTargetKbps(1_000);
    for (let i = 0; i < 20; i += 1) pacer.enqueue(video(i), i * 1_000);
    const sent = pacer.take(20_000);
    // Nothing runs for 1.5 s; then the timer catches up.
    let nowUs = 1_520_000;
    for (let i = 0; i < 100 && pacer.stats().queuedPackets > 0; i += 1) {
      sent.push(...pacer.take(nowUs));
      nowUs = Math.max(nowUs + 1_000, pacer.nextSendUs(nowUs) ?? nowUs);
    }
    expect(sent).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(pacer.stats().droppedPackets).toBe(0);
    expect(pacer.takeKeyframeRequest()).toBe(false);
  });

  it("sends audio before queued video", () => {
    const pacer = createPacer<number>();
    pacer.setTargetKbps(500);
    for (let i = 0; i < 10; i += 1) pacer.enqueue(video(i), 0);
    pacer.take(0);
    pacer.enqueue({ item: 100, sizeBytes: 100, kind: "audio", keyframeStart: false }, 1_000);
    const next = pacer.nextSendUs(1_000) ?? 0;
    expect(pacer.take(next)[0]).toBe(100);
  });
});

describe("startsKeyframe", () => {
  const rtp = (...payload: number[]) => Uint8Array.of(0x80, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, ...payload);
  it.each([
    ["an SPS", rtp(0x67, 0x42), true],
    ["a STAP-A with SPS first", rtp(0x78, 0x00, 0x04, 0x67, 0x42, 0, 0), true],
    ["the start of an IDR in FU-A", rtp(0x7c, 0x85, 0), true],
    ["the middle of an IDR in FU-A", rtp(0x7c, 0x05, 0), false],
    ["a delta picture", rtp(0x41, 0x9a), false],
    ["the start of a delta picture in FU-A", rtp(0x7c, 0x81, 0), false],
    ["an empty packet", Uint8Array.of(0x80, 96), false],
  ])("%s: %s", (_name, packet, expected) => {
    expect(startsKeyframe(packet)).toBe(expected);
  });
});
