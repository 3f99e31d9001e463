import { setImmediate as nextTurn } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { MediaStreamTrack, RTCPeerConnection } from "werift";
import { isClientHello, replayEarlyClientHello } from "../../agent/adapters/webrtc/early-dtls.js";

/** A DTLS 1.2 record header (epoch 0) and the first byte of its handshake message. */
function record(contentType: number, handshakeType: number): Buffer {
  return Buffer.from([contentType, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 1, 0, 4, handshakeType, 0, 0, 0]);
}

const CLIENT_HELLO = record(22, 1);

async function offeringPeer(): Promise<RTCPeerConnection> {
  const pc = new RTCPeerConnection({ iceServers: [] });
  pc.addTransceiver(new MediaStreamTrack({ kind: "video" }), { direction: "sendonly" });
  await pc.setLocalDescription(await pc.createOffer());
  return pc;
}

/** What the ICE connection's data listeners see when `early` arrives before DTLS starts in `role`. */
async function dataSeenAs(role: "server" | "client", early: readonly Buffer[]): Promise<Buffer[]> {
  const pc = await offeringPeer();
  try {
    replayEarlyClientHello(pc);
    const [dtls] = pc.dtlsTransports;
    if (!dtls) throw new Error("no DTLS transport");
    const seen: Buffer[] = [];
    dtls.iceTransport.connection.onData.subscribe((packet) => seen.push(packet));
    for (const packet of early) dtls.iceTransport.connection.onData.execute(packet);
    dtls.role = role;
    dtls.onStateChange.execute("connecting");
    dtls.state = "connecting";
    await nextTurn();
    return seen;
  } finally {
    await pc.close();
  }
}

describe("the hub's early DTLS ClientHello", () => {
  it("is told from other DTLS records", () => {
    expect(isClientHello(CLIENT_HELLO)).toBe(true);
    expect(isClientHello(record(22, 2))).toBe(false); // a ServerHello
    expect(isClientHello(record(23, 1))).toBe(false); // application data
    expect(isClientHello(CLIENT_HELLO.subarray(0, 13))).toBe(false);
  });

  it("is handed again to the ICE connection's data once werift's DTLS server starts", async () => {
    const seen = await dataSeenAs("server", [record(22, 2), CLIENT_HELLO]);
    expect(seen).toHaveLength(3);
    expect(seen[2]).toBe(CLIENT_HELLO);
  });

  it("is not handed to werift as a DTLS client, which speaks first", async () => {
    expect(await dataSeenAs("client", [CLIENT_HELLO])).toHaveLength(1);
  });
});
