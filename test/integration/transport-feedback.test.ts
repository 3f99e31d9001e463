import { afterEach, describe, expect, it } from "vitest";
import { RtpHeader, RtpPacket } from "werift";
import { WeriftPublisher } from "../../agent/adapters/webrtc/werift-publisher.js";
import { plannedFeed, testConfig, testLog } from "../helpers/agent-fixtures.js";
import { waitFor } from "../helpers/wait.js";
import { WeriftWhipHub } from "../helpers/werift-whip-hub.js";

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** An H.264-sized RTP packet (a FU-A fragment's worth of bytes); the hub only counts and acknowledges it. */
function rtp(sequenceNumber: number, timestamp: number): Buffer {
  const packet = new RtpPacket(
    new RtpHeader({ payloadType: 96, sequenceNumber, timestamp, ssrc: 1234 }),
    Buffer.alloc(1100, 0x5c),
  );
  return packet.serialize();
}

describe("transport-wide congestion feedback with a real werift receiver", () => {
  it("stamps our own transport-wide numbers, gets the hub's feedback and moves the estimate", async () => {
    const stamped: number[] = [];
    const hub = new WeriftWhipHub({
      onRtp: (packet) => {
        const twcc = packet.header.extensions.find((extension) => extension.payload.length === 2);
        if (twcc) stamped.push(twcc.payload.readUInt16BE(0));
      },
    });
    await hub.start();
    cleanups.push(() => hub.stop());
    const publisher = new WeriftPublisher(
      plannedFeed(testConfig(hub.endpoint)),
      { onKeyframeRequest: () => {}, onConnectionLost: () => {} },
      testLog,
    );
    cleanups.push(() => publisher.close());
    await publisher.connect();
    const start = publisher.feedback.targetBitrateKbps();

    // About 1.5 Mbit/s over loopback: 170 packets of 1.1 kB a second, in bursts of 17 every 100 ms.
    let sequence = 0;
    const timer = setInterval(() => {
      for (let i = 0; i < 17; i += 1) {
        sequence += 1;
        publisher.writeRtp(rtp(sequence & 0xffff, sequence * 300));
      }
    }, 100);
    cleanups.push(async () => clearInterval(timer));

    await waitFor(
      "transport feedback from the hub",
      () => publisher.feedback.status().feedbackReceived >= 10,
    );
    await waitFor(
      "the estimate rising above its start",
      () => publisher.feedback.targetBitrateKbps() > start * 1.4,
      10_000,
    );
    const status = publisher.feedback.status();
    expect(status.rtcpMalformed).toBe(0);
    expect(status.packetsStamped).toBeGreaterThan(100);
    // Our numbers, not werift's: consecutive from 1 in the order sent.
    expect(stamped.slice(0, 5)).toEqual([1, 2, 3, 4, 5]);
  }, 20_000);
});
