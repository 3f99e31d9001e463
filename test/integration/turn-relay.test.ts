import { afterEach, describe, expect, it } from "vitest";
import { selectedCandidatePair } from "../../agent/adapters/webrtc/host-only-ice.js";
import {
  WeriftPublisher,
  type WeriftPublisherOptions,
} from "../../agent/adapters/webrtc/werift-publisher.js";
import { startAgent } from "../../agent/main.js";
import { plannedFeed, QUICK_TIMINGS, testConfig, testLog } from "../helpers/agent-fixtures.js";
import { Coturn } from "../helpers/coturn.js";
import { GstDecoder } from "../helpers/gst-decoder.js";
import { GstRtpSource } from "../helpers/gst-rtp-source.js";
import { waitFor } from "../helpers/wait.js";
import { WeriftWhipHub, type WhipHubOptions } from "../helpers/werift-whip-hub.js";

/**
 * Publishing through a real TURN server (coturn) with our side allowed relay candidates only: the hub
 * is reached through the relay or not at all. Over UDP, TCP and TLS to the TURN server.
 */

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  source = undefined;
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function started<T extends { start(): Promise<void>; stop(): Promise<void> }>(part: T): Promise<T> {
  await part.start();
  cleanups.push(() => part.stop());
  return part;
}

async function decodingHub(
  options: WhipHubOptions = {},
): Promise<{ hub: WeriftWhipHub; decoder: GstDecoder }> {
  const decoder = await started(new GstDecoder());
  const hub = await started(
    new WeriftWhipHub({ ...options, onRtp: (packet) => decoder.push(packet.serialize()) }),
  );
  return { hub, decoder };
}

/** Spoke's publisher fed a GStreamer test feed's RTP, relay candidates only. */
/** The GStreamer feed of the test's publisher, for the failure message. */
let source: GstRtpSource | undefined;

async function relayPublisher(hub: WeriftWhipHub, options: WeriftPublisherOptions): Promise<WeriftPublisher> {
  const publisher = new WeriftPublisher(
    plannedFeed(testConfig(hub.endpoint)),
    { onKeyframeRequest: () => {}, onConnectionLost: () => {} },
    testLog,
    { iceTransportPolicy: "relay", ...options },
  );
  cleanups.push(() => publisher.close());
  await publisher.connect().catch((error: unknown) => {
    const hubPeers = [...hub.sessions.values()].map((session) => ({
      ice: session.pc.iceConnectionState,
      trickled: session.trickled,
    }));
    const state = { ice: publisher.iceConnectionState, hubPeers, patches: hub.patches.map((p) => p.status) };
    throw new Error(`${String(error)}: ${JSON.stringify(state)}`);
  });
  source = await started(new GstRtpSource((packet) => publisher.writeRtp(packet)));
  return publisher;
}

/** ICE restarts the hub was asked for, over all its sessions. */
function restarts(hub: WeriftWhipHub): number {
  return [...hub.sessions.values()].reduce((sum, session) => sum + session.restarts, 0);
}

/** Waits for decoded frames; on a timeout, says what the hub, the publisher and coturn saw. */
async function framesDecoded(
  decoder: GstDecoder,
  hub: WeriftWhipHub,
  coturn: Coturn,
  publisher?: WeriftPublisher,
): Promise<void> {
  try {
    await waitFor("30 frames decoded at the hub", () => decoder.frames >= 30, 20_000);
  } catch (error) {
    const hubPeers = [...hub.sessions.values()].map((session) => ({
      packets: session.packets,
      state: session.pc.connectionState,
      ice: session.pc.iceConnectionState,
      pair: selectedCandidatePair(session.pc),
    }));
    const state = {
      frames: decoder.frames,
      sent: source?.packets,
      hubPeers,
      pair: publisher?.selectedPair,
      ice: publisher?.iceConnectionState,
    };
    throw new Error(`${String(error)}: ${JSON.stringify(state)}\ncoturn:\n${coturn.log}`);
  }
}

function turnServer(coturn: Coturn, transport: "udp" | "tcp" | "tls", host?: string) {
  return { urls: coturn.url(transport, host), ...coturn.credentials };
}

describe("publishing through coturn, relay candidates only", () => {
  it.each([
    ["UDP", "udp", undefined],
    ["TCP", "tcp", "tcp"],
    ["TLS (turns:, the certificate checked against its CA)", "tls", "tls"],
  ] as const)(
    "over %s: the hub decodes the feed, and the selected pair is a relay",
    async (_name, transport, relayTransport) => {
      const coturn = await started(new Coturn());
      const { hub, decoder } = await decodingHub();
      const publisher = await relayPublisher(hub, {
        iceServers: [turnServer(coturn, transport, transport === "tls" ? "localhost" : undefined)],
        turnTlsOptions: { ca: coturn.certificate },
      });
      await framesDecoded(decoder, hub, coturn, publisher);
      expect(publisher.selectedPair).toMatchObject({
        local: "relay",
        relayTransport: relayTransport ?? "udp",
      });
      // The first offer carried no host candidate: the hub never had a direct path.
      expect(hub.offers[0]).not.toMatch(/ typ host/);
    },
    40_000,
  );

  it("does not connect over TLS to a TURN server whose certificate it cannot verify", async () => {
    const coturn = await started(new Coturn());
    const { hub } = await decodingHub();
    const publisher = new WeriftPublisher(
      plannedFeed(testConfig(hub.endpoint)),
      { onKeyframeRequest: () => {}, onConnectionLost: () => {} },
      testLog,
      // No CA given: Node's own store, where a self-signed certificate is not.
      {
        iceTransportPolicy: "relay",
        iceServers: [turnServer(coturn, "tls", "localhost")],
        hubTurnGraceMs: 60_000,
      },
    );
    cleanups.push(() => publisher.close());
    const connecting = publisher.connect();
    await expect(connecting).rejects.toMatchObject({ code: "SPOKE_WEBRTC_FAILED" });
    expect(publisher.selectedPair).toBeUndefined();
  }, 40_000);

  it("uses the TURN servers of network.iceServers from the agent's first offer (relay policy)", async () => {
    const coturn = await started(new Coturn());
    const { hub, decoder } = await decodingHub();
    const base = testConfig(hub.endpoint);
    const config = {
      ...base,
      network: {
        congestionControl: "report" as const,
        iceServers: [turnServer(coturn, "udp")],
        iceTransportPolicy: "relay" as const,
      },
    };
    const agent = await startAgent(config, { log: testLog, workerTimings: QUICK_TIMINGS });
    cleanups.push(() => agent.stop());
    agent.pressButton();
    await waitFor("live", () => agent.session.report().state === "live", 20_000);
    await framesDecoded(decoder, hub, coturn);
    expect(hub.offers[0]).not.toMatch(/ typ host/);
    expect(restarts(hub)).toBe(0);
  }, 40_000);

  it("restarts ICE at once with TURN servers only the hub's 201 named, when ICE has not connected", async () => {
    const coturn = await started(new Coturn());
    const { username, credential } = coturn.credentials;
    const { hub, decoder } = await decodingHub({
      links: [`<${coturn.url("tcp")}>; rel="ice-server"; username="${username}"; credential="${credential}"`],
    });
    // Relay only and no TURN server of our own: the first offer cannot reach the hub, as on a site
    // whose firewall lets nothing out but to the hub's TURN server.
    const publisher = await relayPublisher(hub, { hubTurnGraceMs: 500 });
    await framesDecoded(decoder, hub, coturn, publisher);
    expect(restarts(hub)).toBe(1);
    expect(publisher.selectedPair).toMatchObject({ local: "relay", relayTransport: "tcp" });
  }, 40_000);
});
