import { describe, expect, it } from "vitest";
import {
  compactNtp,
  parseRtcpCompound,
  parseTransportFeedback,
  roundTripUs,
  writeTransportFeedback,
} from "../../agent/core/congestion/index.js";
import { createSendTimeLog } from "../../agent/core/congestion/send-time-log.js";
import { unwrapAtOrBefore, unwrapNear } from "../../agent/core/congestion/sequence.js";
import type { PacketArrival } from "../../agent/core/congestion/transport-feedback.js";
import { writeReceiverReport, writeRemb } from "../helpers/rtcp-writers.js";

const SSRCS = { senderSsrc: 0x11223344, mediaSsrc: 0xaabbccdd, feedbackCount: 7 };

/** Packets from `base`, one every `stepUs` from `startUs`, those at `lost` indices missing. */
function arrivals(base: number, count: number, startUs: number, stepUs: number, lost: number[] = []) {
  return Array.from(
    { length: count },
    (_, i): PacketArrival => ({
      sequence: (base + i) & 0xffff,
      arrivalUs: lost.includes(i) ? undefined : startUs + i * stepUs,
    }),
  );
}

function roundTrip(packets: PacketArrival[], chunks: "auto" | "vectors" = "auto") {
  const result = parseTransportFeedback(writeTransportFeedback({ ...SSRCS, packets, chunks }));
  if (!result.ok) throw new Error(result.error);
  return result.value;
}

describe("transport-wide feedback", () => {
  it.each([
    ["all received, small deltas (one run)", arrivals(100, 20, 64_000_000, 1_000)],
    ["lost packets (run and vectors)", arrivals(100, 40, 64_000_000, 2_000, [3, 4, 5, 20, 39])],
    ["large and negative deltas (2-bit vectors)", arrivals(5, 9, 1_000_000, 70_000)],
    [
      "a long loss run",
      arrivals(
        9,
        300,
        1_000_000,
        250,
        [...Array(200).keys()].map((i) => i + 50),
      ),
    ],
    ["sequence wrap inside the feedback", arrivals(65_530, 12, 3_200_000, 1_250)],
  ])("round-trips: %s", (_name, packets) => {
    for (const chunks of ["auto", "vectors"] as const) {
      const parsed = roundTrip(packets, chunks);
      expect(parsed.packets).toEqual(packets);
      expect(parsed.baseSequence).toBe(packets[0]?.sequence);
      expect(parsed.feedbackCount).toBe(7);
      expect(parsed.senderSsrc).toBe(SSRCS.senderSsrc);
      expect(parsed.mediaSsrc).toBe(SSRCS.mediaSsrc);
    }
  });

  it("decodes reordering as a negative large delta", () => {
    const packets: PacketArrival[] = [
      { sequence: 1, arrivalUs: 640_000 + 10_000 },
      { sequence: 2, arrivalUs: 640_000 + 4_000 },
    ];
    expect(roundTrip(packets).packets).toEqual(packets);
  });

  it("decodes a hand-made packet: a run chunk, a 1-bit and a 2-bit vector", () => {
    // base 10, 28 packets: a run of 7 small; a 1-bit vector 1,0 ×7; a 2-bit vector of 6 lost and one large.
    // 42 bytes, so 2 of padding (P bit set, last byte 2).
    const bytes = new Uint8Array([
      0xaf, 205, 0x00, 0x0a, 0, 0, 0, 1, 0, 0, 0, 2, 0x00, 0x0a, 0x00, 0x1c, 0x00, 0x00, 0x01, 0x03,
      // chunks: run(small, 7); 1-bit vector 10101010101010; 2-bit vector: 0,0,0,0,0,0,large
      0x20, 0x07, 0xaa, 0xaa, 0xc0, 0x02,
      // deltas: 7 small of 4 ticks, 7 small of 8 ticks, one large of -4 ticks
      4, 4, 4, 4, 4, 4, 4, 8, 8, 8, 8, 8, 8, 8, 0xff, 0xfc, 0, 2,
    ]);
    const result = parseTransportFeedback(bytes);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const received = result.value.packets.filter((p) => p.arrivalUs !== undefined);
    expect(result.value.packets).toHaveLength(28);
    expect(received).toHaveLength(15);
    expect(result.value.referenceTimeUs).toBe(64_000);
    expect(received[0]).toEqual({ sequence: 10, arrivalUs: 65_000 });
    expect(received[7]).toEqual({ sequence: 17, arrivalUs: 65_000 + 6_000 + 2_000 });
    expect(result.value.packets[8]).toEqual({ sequence: 18, arrivalUs: undefined });
    expect(received[14]).toEqual({ sequence: 37, arrivalUs: 65_000 + 6_000 + 7 * 2_000 - 1_000 });
  });

  const valid = writeTransportFeedback({ ...SSRCS, packets: arrivals(0, 30, 64_000, 3_000, [2]) });
  const hostile: [string, Uint8Array][] = [
    ["empty", new Uint8Array()],
    ["header only", valid.subarray(0, 19)],
    ["truncated deltas", valid.subarray(0, valid.length - 4)],
    [
      "length field beyond the bytes",
      Uint8Array.from([...valid.subarray(0, 2), 0xff, 0xff, ...valid.subarray(4)]),
    ],
    ["not version 2", Uint8Array.from([0x4f, ...valid.subarray(1)])],
    ["another RTPFB (NACK)", Uint8Array.from([0x81, ...valid.subarray(1)])],
    ["status count of 65535 with two chunks", withCount(valid, 0xffff)],
    ["run of length 0", Uint8Array.from([...valid.subarray(0, 20), 0x20, 0x00, 0, 0])],
    ["reserved symbol", Uint8Array.from([...valid.subarray(0, 20), 0x60, 0x05, 0, 0])],
  ];

  it.each(hostile)("refuses hostile bytes without throwing: %s", (_name, bytes) => {
    const result = parseTransportFeedback(bytes);
    expect(result.ok).toBe(false);
  });

  it("survives random bytes (never throws, always answers)", () => {
    let seed = 42;
    const next = () => {
      seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
      return seed & 0xff;
    };
    for (let round = 0; round < 2000; round += 1) {
      const bytes = Uint8Array.from({ length: 4 + (next() % 80) }, next);
      bytes[0] = 0x8f;
      bytes[1] = 205;
      if (round % 2 === 0) bytes.set(valid.subarray(0, 4));
      expect(typeof parseTransportFeedback(bytes).ok).toBe("boolean");
      expect(typeof parseRtcpCompound(bytes).ok).toBe("boolean");
    }
  });
});

function withCount(bytes: Uint8Array, count: number): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setUint16(14, count);
  return copy;
}

describe("sequence numbers and the send-time log", () => {
  it.each([
    [5, 10, 5],
    [65_535, 65_536 + 3, 65_535],
    [3, 65_536 + 3, 65_536 + 3],
    [10, 65_536 + 3, 10 + 0],
  ])("feedback number %i before newest %i is %i", (wire, newest, expected) => {
    expect(unwrapAtOrBefore(wire, newest)).toBe(expected);
  });

  it("unwraps near a reference either side", () => {
    expect(unwrapNear(2, 65_534)).toBe(65_538);
    expect(unwrapNear(65_534, 65_538)).toBe(65_534);
  });

  it("finds sent packets across the wrap and forgets what fell out of the ring", () => {
    const log = createSendTimeLog(100);
    for (let i = 0; i < 300; i += 1) log.record((65_400 + i) & 0xffff, i * 1_000, 1_200);
    expect(log.newest()).toBe(65_400 + 299);
    expect(log.lookup((65_400 + 299) & 0xffff)).toEqual({
      sequence: 65_699,
      sendTimeUs: 299_000,
      sizeBytes: 1_200,
    });
    expect(log.lookup(65_535)?.sendTimeUs).toBeUndefined();
    expect(log.lookup((65_400 + 250) & 0xffff)?.sendTimeUs).toBe(250_000);
    // A number never sent maps into the past, where the ring does not have it.
    expect(log.lookup((65_400 + 400) & 0xffff)).toBeUndefined();
  });
});

describe("receiver reports and REMB", () => {
  it("parses loss, jitter and the RTT from LSR/DLSR", () => {
    const now = 1_700_000_000_000_000;
    const lastSr = compactNtp(now - 300_000);
    const bytes = writeReceiverReport(9, [
      {
        ssrc: 77,
        fractionLost: 0.25,
        cumulativeLost: -3,
        jitter: 900,
        lastSr,
        delaySinceLastSr: 65_536 / 10,
      },
    ]);
    const result = parseRtcpCompound(bytes);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const [message] = result.value;
    if (message?.kind !== "receiver-report") throw new Error("expected a receiver report");
    const [block] = message.report.blocks;
    expect(block).toMatchObject({ ssrc: 77, fractionLost: 0.25, cumulativeLost: -3, jitter: 900 });
    if (!block) return;
    // 300 ms since the SR, 100 ms of it held at the receiver: 200 ms round trip, to 1/65536 s.
    expect(Math.abs((roundTripUs(block, compactNtp(now)) ?? 0) - 200_000)).toBeLessThan(100);
    expect(roundTripUs({ ...block, lastSr: 0 }, compactNtp(now))).toBeUndefined();
  });

  it("parses REMB in a compound with a receiver report and transport feedback", () => {
    const feedback = writeTransportFeedback({ ...SSRCS, packets: arrivals(1, 3, 64_000, 1_000) });
    const compound = Uint8Array.from([
      ...writeReceiverReport(9, []),
      ...writeRemb(9, 1_500_000, [0xaabbccdd]),
      ...feedback,
    ]);
    const result = parseRtcpCompound(compound);
    expect(result.ok && result.value.map((m) => m.kind)).toEqual([
      "receiver-report",
      "remb",
      "transport-feedback",
    ]);
    if (!result.ok || result.value[1]?.kind !== "remb") return;
    expect(result.value[1].remb.bitrateBps).toBeCloseTo(1_500_000, -2);
    expect(result.value[1].remb.ssrcs).toEqual([0xaabbccdd]);
  });

  it("refuses a compound whose lengths do not add up", () => {
    const bytes = writeReceiverReport(9, [{ ssrc: 1, fractionLost: 0, cumulativeLost: 0 }]);
    expect(parseRtcpCompound(bytes.subarray(0, bytes.length - 4)).ok).toBe(false);
    expect(parseRtcpCompound(Uint8Array.from([...bytes, 0x80])).ok).toBe(false);
  });
});
