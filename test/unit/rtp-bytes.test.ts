import { describe, expect, it } from "vitest";
import { readRtpHead, rewriteRtp } from "../../agent/adapters/webrtc/rtp-bytes.js";

/** An RTP packet as rtph264pay sends it: version 2, marker set, PT 96, no extension. */
function packet(payload: number[], first = 0x80): Buffer {
  const header = Buffer.from([first, 0xe0, 0x12, 0x34, 0, 0, 0x10, 0, 0xaa, 0xbb, 0xcc, 0xdd]);
  return Buffer.concat([header, Buffer.from(payload)]);
}

const REWRITE = { ssrc: 0x01020304, payloadType: 102, sequence: 7, timestamp: 0xfffffffe };

describe("RTP header rewriting on the bytes", () => {
  it("rewrites SSRC, payload type (keeping the marker), sequence and timestamp in place", () => {
    const input = packet([0x65, 1, 2, 3]);
    const out = rewriteRtp(input, REWRITE);
    expect(out).toBe(input);
    expect(out[1]).toBe(0x80 | 102);
    expect(readRtpHead(out)).toEqual({ sequence: 7, timestamp: 0xfffffffe });
    expect(out.readUInt32BE(8)).toBe(0x01020304);
    expect([...out.subarray(12)]).toEqual([0x65, 1, 2, 3]);
  });

  it("adds a one-byte extension block with the transport-wide number, payload unchanged", () => {
    const out = rewriteRtp(packet([0x65, 9]), { ...REWRITE, transportWide: { id: 3, sequence: 0x0102 } });
    expect((out[0] ?? 0) & 0x10).toBe(0x10);
    expect(out.readUInt16BE(12)).toBe(0xbede);
    expect(out.readUInt16BE(14)).toBe(1);
    expect([...out.subarray(16, 20)]).toEqual([0x31, 0x01, 0x02, 0]);
    expect([...out.subarray(20)]).toEqual([0x65, 9]);
  });

  it("keeps the packet's other one-byte elements and replaces an old number of the same id", () => {
    // Extension block: id 1 (one byte 0x55), id 3 (two bytes, an old number), padding.
    const ext = [0xbe, 0xde, 0, 2, 0x10, 0x55, 0x31, 0xff, 0xff, 0, 0, 0];
    const input = Buffer.concat([packet([], 0x90), Buffer.from([...ext, 0x41])]);
    const out = rewriteRtp(input, { ...REWRITE, transportWide: { id: 3, sequence: 5 } });
    expect(out.readUInt16BE(14)).toBe(2);
    expect([...out.subarray(16, 24)]).toEqual([0x10, 0x55, 0x31, 0, 5, 0, 0, 0]);
    expect([...out.subarray(24)]).toEqual([0x41]);
  });

  it("leaves a two-byte extension block alone and adds no number to it", () => {
    const input = Buffer.concat([packet([], 0x90), Buffer.from([0x10, 0x00, 0, 1, 1, 1, 0x77, 0, 0x41])]);
    const out = rewriteRtp(input, { ...REWRITE, transportWide: { id: 3, sequence: 5 } });
    expect(out).toBe(input);
    expect([...out.subarray(12)]).toEqual([0x10, 0x00, 0, 1, 1, 1, 0x77, 0, 0x41]);
  });
});
