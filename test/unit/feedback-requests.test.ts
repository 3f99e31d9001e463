import { describe, expect, it } from "vitest";
import {
  createFirFilter,
  parseFir,
  parseNack,
  parseRtcpCompound,
} from "../../agent/core/congestion/index.js";
import { writeFir, writeReceiverReport } from "../helpers/rtcp-writers.js";

const HUB = 0x01020304;
const OURS = 0xaabbccdd;

describe("FIR parsing (RFC 5104 §4.3.1)", () => {
  it("reads a FIR as a hub sends it: PSFB 206, FMT 4, one entry per stream", () => {
    // 84 ce 00 04 | sender | media 0 | ssrc | seq 07 + 3 reserved
    const bytes = Uint8Array.from([
      0x84, 0xce, 0x00, 0x04, 0x01, 0x02, 0x03, 0x04, 0, 0, 0, 0, 0xaa, 0xbb, 0xcc, 0xdd, 0x07, 0, 0, 0,
    ]);
    expect(parseFir(bytes)).toEqual({
      ok: true,
      value: { senderSsrc: HUB, entries: [{ ssrc: OURS, sequence: 7 }] },
    });
    expect(parseRtcpCompound(bytes)).toEqual({
      ok: true,
      value: [{ kind: "fir", fir: { senderSsrc: HUB, entries: [{ ssrc: OURS, sequence: 7 }] } }],
    });
  });

  it("finds a FIR inside a compound packet, after a receiver report", () => {
    const report = writeReceiverReport(HUB, [{ ssrc: OURS, fractionLost: 0, cumulativeLost: 0 }]);
    const fir = writeFir(HUB, [
      { ssrc: 0x1111, sequence: 1 },
      { ssrc: OURS, sequence: 200 },
    ]);
    const compound = new Uint8Array([...report, ...fir]);
    const parsed = parseRtcpCompound(compound);
    expect(parsed.ok && parsed.value.map((message) => message.kind)).toEqual(["receiver-report", "fir"]);
    expect(parsed.ok && parsed.value[1]).toEqual({
      kind: "fir",
      fir: {
        senderSsrc: HUB,
        entries: [
          { ssrc: 0x1111, sequence: 1 },
          { ssrc: OURS, sequence: 200 },
        ],
      },
    });
  });

  it.each([
    ["too short for one entry", writeFir(HUB, []), "FIR too short"],
    ["an entry cut in half", writeFir(HUB, [{ ssrc: OURS, sequence: 1 }]).subarray(0, 16), "FIR too short"],
    [
      "a length field beyond its bytes",
      withLength(writeFir(HUB, [{ ssrc: OURS, sequence: 1 }]), 9),
      "FIR longer than its bytes",
    ],
    ["entries not 8 bytes each", oddFir(), "FIR entries are not 8 bytes each"],
  ])("refuses %s with a reason, without throwing", (_, bytes, error) => {
    expect(parseFir(bytes)).toEqual({ ok: false, error });
  });
});

describe("which FIRs ask for a keyframe", () => {
  it("a new sequence number for our stream does, a resend of the same number does not", () => {
    const asks = createFirFilter();
    const fir = (sequence: number, ssrc = OURS) => ({ senderSsrc: HUB, entries: [{ ssrc, sequence }] });
    expect([
      asks(fir(5), [OURS]),
      asks(fir(5), [OURS]), // resent: the keyframe for it is already on its way
      asks(fir(6), [OURS]),
      asks(fir(9, 0x1111), [OURS]), // another sender's stream
      asks({ senderSsrc: 0x999, entries: [{ ssrc: OURS, sequence: 6 }] }, [OURS]), // another viewer
    ]).toEqual([true, false, true, false, true]);
  });
});

describe("NACK parsing (RFC 4585 §6.2.1)", () => {
  it("expands each PID and its bitmask into the sequence numbers asked for, across the wrap", () => {
    const bytes = Uint8Array.from([
      0x81, 0xcd, 0x00, 0x03, 0x01, 0x02, 0x03, 0x04, 0xaa, 0xbb, 0xcc, 0xdd, 0xff, 0xfe, 0b00000000,
      0b00000101,
    ]);
    expect(parseNack(bytes)).toEqual({
      ok: true,
      value: { senderSsrc: HUB, mediaSsrc: OURS, sequences: [0xfffe, 0xffff, 1] },
    });
  });
});

function withLength(bytes: Uint8Array, words: number): Uint8Array {
  const copy = Uint8Array.from(bytes);
  new DataView(copy.buffer).setUint16(2, words);
  return copy;
}

/** A FIR whose length says 16 bytes: the 12 of its header and half an entry. */
function oddFir(): Uint8Array {
  return withLength(writeFir(HUB, [{ ssrc: OURS, sequence: 1 }]), 3);
}
