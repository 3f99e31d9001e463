import { describe, expect, it } from "vitest";
import {
  createCongestionController,
  createSendTimeLog,
  parseTransportFeedback,
  writeTransportFeedback,
} from "../../agent/core/congestion/index.js";

/**
 * A libwebrtc receiver reports packets again after a late one with an old number (a NACK
 * retransmission keeps the original): its feedback window moves back and the next feedback repeats
 * everything from there. Each arrival must count once.
 */

/** 900 kbit/s: three 1250-byte packets a frame at 30 fps, 20 ms transit, feedback every 100 ms. */
function run(repeatPrevious: boolean) {
  const controller = createCongestionController({ minKbps: 100, maxKbps: 5_000 });
  let previous: { sequence: number; arrivalUs: number }[] = [];
  let pending: { sequence: number; arrivalUs: number }[] = [];
  let sequence = 0;
  for (let frame = 0; frame < 90; frame += 1) {
    const sendUs = Math.round((frame * 1e6) / 30);
    for (let p = 0; p < 3; p += 1) {
      controller.onPacketSent({ sequence, sendTimeUs: sendUs + p * 1000, sizeBytes: 1250 });
      pending.push({ sequence, arrivalUs: sendUs + p * 1000 + 20_000 });
      sequence += 1;
    }
    if (frame % 3 === 2) {
      const packets = repeatPrevious ? [...previous, ...pending] : pending;
      const parsed = parseTransportFeedback(
        writeTransportFeedback({ senderSsrc: 1, mediaSsrc: 2, feedbackCount: 0, packets }),
      );
      if (parsed.ok) controller.onTransportFeedback(parsed.value, sendUs + 25_000);
      previous = pending;
      pending = [];
    }
  }
  return controller.state(3_000_000);
}

describe("feedback that reports packets again", () => {
  it("counts each arrival once in the delivered rate", () => {
    const once = run(false);
    const repeated = run(true);
    expect(once.deliveredKbps).toBeGreaterThan(850);
    expect(once.deliveredKbps).toBeLessThan(950);
    expect(repeated.deliveredKbps).toBe(once.deliveredKbps);
    expect(repeated.usage).toBe(once.usage);
  });

  it("the send-time log acknowledges a packet once, and again after its number is sent anew", () => {
    const log = createSendTimeLog(16);
    const sequence = log.record(5, 0, 1200);
    expect(log.acknowledge(sequence)).toBe(true);
    expect(log.acknowledge(sequence)).toBe(false);
    expect(log.acknowledge(sequence + 1)).toBe(false);
    log.record(5, 10, 1200);
    expect(log.acknowledge(sequence)).toBe(true);
  });
});
