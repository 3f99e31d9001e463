import { describe, expect, it } from "vitest";
import { createFirstKeyframeGate } from "../../agent/core/first-keyframe-gate.js";

describe("the first keyframe gate of a publication", () => {
  it("holds video back until connected, then until a keyframe starts", () => {
    const gate = createFirstKeyframeGate(1000);
    expect(gate.admit(true, 0)).toBe(false); // before the connection: werift would drop it
    expect(gate.admit(false, 10)).toBe(false);
    gate.connected(20);
    expect(gate.admit(false, 30)).toBe(false);
    expect(gate.open).toBe(false);
    expect(gate.admit(true, 40)).toBe(true);
    expect(gate.open).toBe(true);
    expect(gate.admit(false, 50)).toBe(true);
    expect(gate.dropped).toBe(3);
  });

  it("lets video flow once the keyframe has been waited for long enough", () => {
    const gate = createFirstKeyframeGate(1000);
    gate.connected(0);
    expect(gate.admit(false, 999)).toBe(false);
    expect(gate.admit(false, 1000)).toBe(true);
    expect(gate.admit(false, 1001)).toBe(true);
  });

  it("counts its wait from the first connection only", () => {
    const gate = createFirstKeyframeGate(1000);
    gate.connected(0);
    gate.connected(900);
    expect(gate.admit(false, 1000)).toBe(true);
  });
});
