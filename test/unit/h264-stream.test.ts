import { describe, expect, it } from "vitest";
import {
  browserDecodable,
  emptyStreamFacts,
  profileName,
  readH264Packet,
} from "../../agent/core/h264-stream.js";

const rtp = (...payload: number[]) => Uint8Array.of(0x80, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, ...payload);
/** SPS: NAL header 0x67, profile_idc, constraint flags, level_idc, then the rest. */
const sps = (profile: number, flags: number, level: number) => [0x67, profile, flags, level, 0xac, 0x2b];
const pps = [0x68, 0xce, 0x3c, 0x80];
const idr = [0x65, 0x88, 0x84, 0x00];

describe("reading an H.264 RTP stream", () => {
  it("finds SPS and keyframe in single NAL unit packets", () => {
    let facts = emptyStreamFacts();
    for (const packet of [rtp(...sps(66, 0xc0, 31)), rtp(...pps), rtp(...idr)])
      facts = readH264Packet(facts, packet);
    expect(facts).toEqual({
      sps: { profileIdc: 66, constraintFlags: 0xc0, levelIdc: 31 },
      sawKeyframe: true,
      packets: 3,
    });
    expect(facts.sps && profileName(facts.sps)).toBe("constrained-baseline");
  });

  it("finds them aggregated in a STAP-A and fragmented in an FU-A", () => {
    const stapA = rtp(24, 0, 6, ...sps(77, 0x40, 40), 0, 4, ...pps);
    const fuStart = rtp(0x7c, 0x85, 0x88, 0x84, 0x00, 0x11);
    const fuMiddle = rtp(0x7c, 0x05, 0x22, 0x33);
    let facts = emptyStreamFacts();
    facts = readH264Packet(facts, stapA);
    expect(facts.sps).toEqual({ profileIdc: 77, constraintFlags: 0x40, levelIdc: 40 });
    expect(facts.sawKeyframe).toBe(false);
    facts = readH264Packet(readH264Packet(facts, fuMiddle), fuStart);
    expect(facts.sawKeyframe).toBe(true);
  });

  it("skips CSRCs and a header extension before the payload", () => {
    const packet = Uint8Array.of(
      0x91,
      96,
      0,
      1,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      1,
      0,
      0,
      0,
      9,
      0xbe,
      0xde,
      0,
      1,
      0x10,
      0xff,
      0,
      0,
      ...idr,
    );
    expect(readH264Packet(emptyStreamFacts(), packet).sawKeyframe).toBe(true);
  });

  it("ignores packets too short to be RTP", () => {
    expect(readH264Packet(emptyStreamFacts(), Uint8Array.of(0x80, 96))).toEqual({
      sawKeyframe: false,
      packets: 1,
    });
  });

  it.each([
    [66, 0x40, "constrained-baseline", true],
    [66, 0x00, "baseline", true],
    [77, 0x00, "main", true],
    [100, 0x00, "high", true],
    [244, 0x00, "profile_idc 244", false], // High 4:4:4, what x264 sends without I420 in front
  ])(
    "profile_idc %i flags %i is %s (browser decodable: %s)",
    (profileIdc, constraintFlags, name, decodable) => {
      const parameters = { profileIdc, constraintFlags, levelIdc: 31 };
      expect(profileName(parameters)).toBe(name);
      expect(browserDecodable(parameters)).toBe(decodable);
    },
  );
});
