import { afterEach, describe, expect, it } from "vitest";
import type { SpokeConfig } from "../../agent/config/schema.js";
import { type RunningAgent, startAgent } from "../../agent/main.js";
import { QUICK_TIMINGS, recordSessionStates, testConfig, testLog } from "../helpers/agent-fixtures.js";
import { GstDecoder } from "../helpers/gst-decoder.js";
import { waitFor } from "../helpers/wait.js";
import { WeriftWhipHub, type WhipHubOptions } from "../helpers/werift-whip-hub.js";

/**
 * The hub goes away mid-session and comes back: a real werift hub, a real GStreamer feed, a real
 * decoder behind the hub. The session rides it out (degraded, then live) and leaves no session behind.
 */

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function hubWithDecoder(
  options: WhipHubOptions = {},
): Promise<{ hub: WeriftWhipHub; decoder: GstDecoder }> {
  const decoder = new GstDecoder();
  await decoder.start();
  cleanups.push(() => decoder.stop());
  const hub = new WeriftWhipHub({ ...options, onRtp: (packet) => decoder.push(packet.serialize()) });
  await hub.start();
  cleanups.push(() => hub.stop());
  return { hub, decoder };
}

async function agentFor(config: SpokeConfig): Promise<RunningAgent> {
  const agent = await startAgent(config, { log: testLog, workerTimings: QUICK_TIMINGS });
  cleanups.push(() => agent.stop());
  return agent;
}

/** Open UDP sockets in this process: each peer connection holds one per ICE host candidate. */
function udpSockets(): number {
  return process.getActiveResourcesInfo().filter((resource) => resource === "UDPWrap").length;
}

describe("a hub that restarts mid-session", () => {
  it("is waited for while down; video resumes when it is back, with one session there, and stop leaves nothing", async () => {
    const first = await hubWithDecoder();
    const agent = await agentFor(testConfig(first.hub.endpoint));
    const states = recordSessionStates(agent, cleanups);
    // The second hub's decoder will hold one more socket of its own.
    const socketsBefore = udpSockets() + 1;
    agent.pressButton();
    await waitFor("frames at the first hub", () => first.decoder.frames >= 15);

    const port = first.hub.port;
    await first.hub.kill();
    await waitFor("degraded", () => agent.session.report().state === "degraded", 10_000);
    // Down for a while: new sessions fail, and are tried again.
    await waitFor(
      "waiting for the hub",
      () => agent.session.feedStatuses()[0]?.link?.state === "waiting-for-hub",
      10_000,
    );
    expect(agent.session.feedStatuses()[0]?.link?.lastError?.code).toBe("SPOKE_WHIP_UNREACHABLE");
    await new Promise((resolve) => setTimeout(resolve, 2000));

    const second = await hubWithDecoder({ port });
    await waitFor("live again", () => agent.session.report().state === "live", 30_000);
    await waitFor("frames at the restarted hub", () => second.decoder.frames >= 30, 10_000);
    expect(states.slice(states.indexOf("live"))).toEqual(["live", "degraded", "live"]);
    expect(agent.session.feedStatuses()[0]?.link).toEqual({ state: "connected", reconnects: 1 });
    // One session at the restarted hub: the failed attempts made none, nothing was doubled.
    expect(second.hub.openSessions).toHaveLength(1);

    agent.pressButton();
    await waitFor("idle", () => agent.session.report().state === "idle");
    expect(second.hub.openSessions).toHaveLength(0);
    expect(second.hub.requests.map((request) => request.method)).toEqual(["POST", "DELETE"]);
    // Every peer the reconnection made, the failed attempts' included, is closed: no socket is left.
    await waitFor("the session's sockets closed", () => udpSockets() === socketsBefore, 5000);
  }, 90_000);

  it("gets a hub that went quiet for a moment back with an ICE restart: the same session, no new POST", async () => {
    const { hub, decoder } = await hubWithDecoder();
    const agent = await agentFor(testConfig(hub.endpoint));
    const states = recordSessionStates(agent, cleanups);
    agent.pressButton();
    await waitFor("frames", () => decoder.frames >= 15);
    const [session] = hub.sessions.values();
    // The path from the hub drops everything it sends (SRTP and SRTCP) for 2.5 s; STUN still passes.
    const connection = session?.pc.iceTransports[0]?.connection;
    if (!connection) throw new Error("no ICE connection at the hub");
    const send = connection.send;
    connection.send = async () => {};
    setTimeout(() => {
      connection.send = send;
    }, 2500);
    await waitFor("degraded", () => agent.session.report().state === "degraded", 10_000);
    await waitFor("live again", () => agent.session.report().state === "live", 20_000);
    const before = decoder.frames;
    await waitFor("frames after the restart", () => decoder.frames >= before + 30, 10_000);
    expect(states.slice(states.indexOf("live"))).toEqual(["live", "degraded", "live"]);
    expect(session?.restarts).toBe(1);
    expect(hub.requests.filter((request) => request.method === "POST")).toHaveLength(1);
    expect(hub.openSessions).toEqual([session]);
    expect(agent.session.feedStatuses()[0]?.link).toEqual({ state: "connected", reconnects: 1 });
  }, 60_000);

  it("retries a start the hub answers with 503 and Retry-After, and goes live", async () => {
    const { hub, decoder } = await hubWithDecoder({
      unavailable: { times: 1, status: 503, retryAfter: "1" },
    });
    const agent = await agentFor(testConfig(hub.endpoint));
    const states = recordSessionStates(agent, cleanups);
    agent.pressButton();
    await waitFor("live", () => agent.session.report().state === "live", 40_000);
    await waitFor("frames", () => decoder.frames >= 15);
    expect(states).not.toContain("error");
    expect(hub.requests.filter((request) => request.method === "POST")).toHaveLength(2);
    expect(hub.openSessions).toHaveLength(1);
  }, 60_000);
});
