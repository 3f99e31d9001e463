import { afterEach, describe, expect, it } from "vitest";
import type { SpokeConfig } from "../../agent/config/schema.js";
import { type RunningAgent, startAgent } from "../../agent/main.js";
import { QUICK_TIMINGS, testConfig, testLog } from "../helpers/agent-fixtures.js";
import { GstDecoder } from "../helpers/gst-decoder.js";
import { waitFor } from "../helpers/wait.js";
import { type HubSession, WeriftWhipHub, type WhipHubOptions } from "../helpers/werift-whip-hub.js";

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function agentFor(config: SpokeConfig): Promise<RunningAgent> {
  const agent = await startAgent(config, { log: testLog, workerTimings: QUICK_TIMINGS });
  cleanups.push(() => agent.stop());
  return agent;
}

/** A werift hub that decodes what it receives and counts the keyframes among it. */
async function decodingHub(options: WhipHubOptions = {}) {
  const decoder = new GstDecoder();
  await decoder.start();
  cleanups.push(() => decoder.stop());
  const counts = { keyframes: 0 };
  const hub = new WeriftWhipHub({
    ...options,
    onRtp: (packet) => {
      const nal = (packet.payload[0] ?? 0) & 0x1f;
      const fuStart = nal === 28 && ((packet.payload[1] ?? 0) & 0x9f) === 0x85;
      if (nal === 5 || fuStart) counts.keyframes += 1;
      decoder.push(packet.serialize());
    },
  });
  await hub.start();
  cleanups.push(() => hub.stop());
  return { hub, decoder, counts };
}

function onlySession(hub: WeriftWhipHub): HubSession {
  const [session] = hub.sessions.values();
  if (!session) throw new Error("the hub has no session");
  return session;
}

const networkOf = (agent: RunningAgent) => agent.session.feedStatuses()[0]?.network;

describe("keyframe requests by FIR (RFC 5104), which werift ignores", () => {
  it("answers a hub's FIR with a keyframe, and counts it in health", async () => {
    const { hub, counts } = await decodingHub();
    // Ten seconds between periodic keyframes: any keyframe seen sooner was asked for.
    const agent = await agentFor(testConfig(hub.endpoint, { feed: { keyframeIntervalSeconds: 10 } }));
    agent.pressButton();
    await waitFor("live", () => agent.session.report().state === "live");
    await waitFor("the first keyframe", () => counts.keyframes > 0);
    // Past the pacing interval of the keyframe forced at the start.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const before = counts.keyframes;
    await onlySession(hub).sendFir();
    await waitFor("a keyframe after the FIR", () => counts.keyframes > before, 3000);
    await waitFor("the FIR in health", () => (networkOf(agent)?.requests?.firs ?? 0) >= 1, 5000);
    expect(networkOf(agent)?.requests).toMatchObject({ firs: 1, plis: 0 });
  });
});

describe("a lossy path to the hub", () => {
  it("keeps the picture decoding with 5 % of packets lost: the hub's NACKs are answered with resends", async () => {
    const { hub, decoder } = await decodingHub({ dropRtpPercent: 5 });
    const agent = await agentFor(testConfig(hub.endpoint));
    agent.pressButton();
    await waitFor("live", () => agent.session.report().state === "live");
    await waitFor("30 decoded frames", () => decoder.frames >= 30);
    const session = onlySession(hub);
    await waitFor("losses", () => session.dropped >= 50, 15_000);
    const framesBefore = decoder.frames;
    await waitFor("60 more decoded frames", () => decoder.frames >= framesBefore + 60, 15_000);
    // Most of what was lost came again: werift answered the NACKs from its cache.
    await waitFor("resends", () => session.recovered >= session.dropped * 0.8, 5000);
    await waitFor("NACKs in health", () => (networkOf(agent)?.requests?.nacks ?? 0) > 0, 5000);
    const requests = networkOf(agent)?.requests;
    expect(requests?.nackedPackets).toBeGreaterThanOrEqual(requests?.nacks ?? 1);
    expect(networkOf(agent)).toMatchObject({
      ice: { state: "connected", candidateType: "host", transport: "udp" },
    });
  });
});
