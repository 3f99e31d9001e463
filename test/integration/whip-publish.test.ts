import { promises as dnsPromises } from "node:dns";
import pino from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { WeriftPublisher } from "../../agent/adapters/webrtc/werift-publisher.js";
import type { SpokeConfig } from "../../agent/config/schema.js";
import { type AgentOptions, type RunningAgent, startAgent } from "../../agent/main.js";
import {
  plannedFeed,
  QUICK_TIMINGS,
  recordSessionStates,
  testConfig,
  testLog,
} from "../helpers/agent-fixtures.js";
import { breakAnswerBodies } from "../helpers/broken-fetch.js";
import { GstDecoder, GstOpusDecoder } from "../helpers/gst-decoder.js";
import { childPids, isAlive, requiredPid } from "../helpers/proc.js";
import { waitFor } from "../helpers/wait.js";
import { WeriftWhipHub, type WhipHubOptions } from "../helpers/werift-whip-hub.js";

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  vi.restoreAllMocks();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function hubWithDecoder(
  options: WhipHubOptions = {},
): Promise<{ hub: WeriftWhipHub; decoder: GstDecoder; sequenceNumbers: number[] }> {
  const decoder = new GstDecoder();
  await decoder.start();
  cleanups.push(() => decoder.stop());
  const sequenceNumbers: number[] = [];
  const hub = new WeriftWhipHub({
    ...options,
    onRtp: (packet) => {
      sequenceNumbers.push(packet.header.sequenceNumber);
      decoder.push(packet.serialize());
    },
  });
  await hub.start();
  cleanups.push(() => hub.stop());
  return { hub, decoder, sequenceNumbers };
}

/** The largest step between consecutive RTP sequence numbers (they wrap at 2^16). */
function largestSequenceStep(sequenceNumbers: number[]): number {
  return Math.max(...sequenceNumbers.slice(1).map((n, i) => (n - (sequenceNumbers[i] ?? n) + 65536) % 65536));
}

async function agentFor(config: SpokeConfig, options: Partial<AgentOptions> = {}): Promise<RunningAgent> {
  const agent = await startAgent(config, { log: testLog, workerTimings: QUICK_TIMINGS, ...options });
  cleanups.push(() => agent.stop());
  return agent;
}

/** This process's feed workers running a feed (the agent runs in the test process here), not the spare. */
async function workerPids(agent: RunningAgent): Promise<number[]> {
  return (await childPids(process.pid, "feed-worker")).filter((pid) => pid !== agent.spareWorkerPid);
}

describe("publishing over WHIP", () => {
  it("goes live on a button press: the hub decodes the feed's frames at the configured size", async () => {
    const { hub, decoder } = await hubWithDecoder({ token: "hub-secret" });
    const agent = await agentFor(testConfig(hub.endpoint, { token: "hub-secret" }));
    agent.pressButton();
    await waitFor("live", () => agent.session.report().state === "live");
    await waitFor("60 decoded frames", () => decoder.frames >= 60);
    expect({ width: decoder.width, height: decoder.height }).toEqual({ width: 640, height: 360 });
    expect(hub.requests[0]).toEqual({
      method: "POST",
      url: "/whip/room",
      authorization: "Bearer hub-secret",
    });
  });

  it("announces the H.264 level it sends: a 1080p feed offers level 4, sends level 4, and is decoded", async () => {
    const decoder = new GstDecoder();
    await decoder.start();
    cleanups.push(() => decoder.stop());
    const spsLevels = new Set<number>();
    const hub = new WeriftWhipHub({
      onRtp: (packet) => {
        // A sequence parameter set (NAL type 7) sent on its own: profile, constraints, then level_idc.
        if (((packet.payload[0] ?? 0) & 0x1f) === 7) spsLevels.add(packet.payload[3] ?? 0);
        decoder.push(packet.serialize());
      },
    });
    await hub.start();
    cleanups.push(() => hub.stop());
    const agent = await agentFor(
      testConfig(hub.endpoint, { feed: { width: 1920, height: 1080, framerate: 30, bitrateKbps: 3000 } }),
    );
    agent.pressButton();
    await waitFor("30 decoded frames", () => decoder.frames >= 30, 20_000);
    expect({ width: decoder.width, height: decoder.height }).toEqual({ width: 1920, height: 1080 });
    expect(hub.offers[0]).toContain("profile-level-id=42e028");
    expect([...spsLevels]).toEqual([40]);
  });

  it("answers the hub's keyframe request (PLI) with a keyframe from the encoder", async () => {
    let keyframes = 0;
    const hub = new WeriftWhipHub({
      onRtp: (packet) => {
        const nal = (packet.payload[0] ?? 0) & 0x1f;
        const fuStart = nal === 28 && ((packet.payload[1] ?? 0) & 0x9f) === 0x85;
        if (nal === 5 || fuStart) keyframes += 1;
      },
    });
    await hub.start();
    cleanups.push(() => hub.stop());
    // Ten seconds between periodic keyframes: any keyframe seen sooner was asked for.
    const agent = await agentFor(testConfig(hub.endpoint, { feed: { keyframeIntervalSeconds: 10 } }));
    agent.pressButton();
    await waitFor("live", () => agent.session.report().state === "live");
    await waitFor("the first keyframe", () => keyframes > 0);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const before = keyframes;
    const [session] = hub.sessions.values();
    await session?.requestKeyframe();
    await waitFor("a keyframe after the PLI", () => keyframes > before, 2000);
  });

  it("ends the session on the second press: WHIP DELETE sent, worker gone, state idle", async () => {
    const { hub, decoder } = await hubWithDecoder();
    const agent = await agentFor(testConfig(hub.endpoint));
    agent.pressButton();
    await waitFor("frames", () => decoder.frames >= 10);
    const workers = await workerPids(agent);
    expect(workers).toHaveLength(1);
    agent.pressButton();
    await waitFor("idle", () => agent.session.report().state === "idle");
    expect(hub.requests.map((request) => request.method)).toEqual(["POST", "DELETE"]);
    expect([...hub.sessions.values()].map((session) => session.deleted)).toEqual([true]);
    expect(workers.filter(isAlive)).toEqual([]);
    expect(agent.session.feedStatuses()[0]?.state).toBe("stopped");
  });

  it("keeps the session live while a killed worker is restarted, and the hub keeps decoding", async () => {
    const { decoder, hub, sequenceNumbers } = await hubWithDecoder();
    const agent = await agentFor(testConfig(hub.endpoint));
    agent.pressButton();
    await waitFor("frames", () => decoder.frames >= 10);
    const [worker] = await workerPids(agent);
    process.kill(requiredPid(worker), "SIGKILL");
    await waitFor("a restart", () => agent.session.feedStatuses()[0]?.restarts === 1);
    await waitFor("running again", () => agent.session.feedStatuses()[0]?.state === "running");
    const before = decoder.frames;
    await waitFor("frames from the new worker", () => decoder.frames >= before + 30);
    expect(agent.session.report().state).toBe("live");
    // One stream for the hub: the new encoder's packets continue the old sequence, no jump.
    expect(largestSequenceStep(sequenceNumbers)).toBeLessThanOrEqual(5);
  });

  it("notices a hub that dropped the session in about 2 s, stays up (degraded) and publishes again", async () => {
    const { hub, decoder } = await hubWithDecoder();
    const agent = await agentFor(testConfig(hub.endpoint));
    const states = recordSessionStates(agent, cleanups);
    agent.pressButton();
    await waitFor("frames", () => decoder.frames >= 10);
    const [first] = hub.sessions.values();
    // The hub's peer goes without a word (a crash of its media side): only its RTCP stops.
    await first?.pc.close();
    await waitFor("degraded", () => agent.session.report().state === "degraded", 10_000);
    await waitFor("live again", () => agent.session.report().state === "live", 20_000);
    const before = decoder.frames;
    await waitFor("frames from the new session", () => decoder.frames >= before + 30, 10_000);
    expect(states.slice(states.indexOf("live"))).toEqual(["live", "degraded", "live"]);
    expect(agent.session.feedStatuses()[0]?.link).toEqual({ state: "connected", reconnects: 1 });
    // The old session was DELETEd: one session left at the hub, the new one.
    const open = [...hub.sessions.values()].filter((session) => !session.deleted);
    expect(open).toHaveLength(1);
    expect(open[0]).not.toBe(first);
  }, 60_000);

  it("turns a hub's HTTP error into a session error that says what the hub said, and stops the feed", async () => {
    const { hub } = await hubWithDecoder({ failWith: { status: 403, body: "token expired for this room" } });
    const agent = await agentFor(testConfig(hub.endpoint));
    agent.pressButton();
    await waitFor("error", () => agent.session.report().state === "error");
    expect(agent.session.report().error).toEqual({
      code: "SPOKE_WHIP_HTTP_ERROR",
      message: "WHIP endpoint answered 403 Forbidden: token expired for this room",
    });
    expect(await workerPids(agent)).toEqual([]);
    agent.pressButton();
    expect(agent.session.report().state).toBe("starting");
  });

  it("reports a hub whose SDP answer takes no video, and ends the half-made session on the hub", async () => {
    const { hub } = await hubWithDecoder({ answerWith: "v=0\r\nthis is not an answer\r\n" });
    const agent = await agentFor(testConfig(hub.endpoint));
    agent.pressButton();
    await waitFor("error", () => agent.session.report().state === "error");
    expect(agent.session.report().error).toEqual({
      code: "SPOKE_WHIP_BAD_ANSWER",
      message: "the hub's SDP answer accepts no video (no H.264 at the hub?)",
    });
    expect(hub.requests.map((request) => `${request.method} ${request.url}`)).toEqual([
      "POST /whip/room",
      "DELETE /whip/room/sessions/x",
    ]);
  });

  it("reports an unreachable hub", async () => {
    const agent = await agentFor(testConfig("http://127.0.0.1:9/whip/room"));
    agent.pressButton();
    // Tried again for up to 10 s first, as a hub that is starting up would be.
    await waitFor("error", () => agent.session.report().state === "error", 30_000);
    expect(agent.session.report().error?.code).toBe("SPOKE_WHIP_UNREACHABLE");
  });

  it("reports a missing camera without bothering the hub", async () => {
    const { hub } = await hubWithDecoder();
    const config = testConfig(hub.endpoint, {
      feed: { source: { type: "v4l2", device: "/dev/video-absent" } },
    });
    const agent = await agentFor(config);
    agent.pressButton();
    await waitFor("error", () => agent.session.report().state === "error");
    expect(agent.session.report().error).toEqual({
      code: "SPOKE_FEED_SOURCE_MISSING",
      message: "capture device /dev/video-absent does not exist",
    });
    expect(hub.requests).toEqual([]);
  });
});

const WITH_TONE = { feed: { audio: { source: { type: "test", frequencyHz: 440 } } } };

/** A hub that decodes both the video and the audio it receives, and keeps their sequence numbers. */
async function hubWithDecoders(options: WhipHubOptions = {}) {
  const video = new GstDecoder();
  const audio = new GstOpusDecoder();
  await video.start();
  cleanups.push(() => video.stop());
  await audio.start();
  cleanups.push(() => audio.stop());
  const audioSequence: number[] = [];
  const hub = new WeriftWhipHub({
    ...options,
    onRtp: (packet) => video.push(packet.serialize()),
    onAudioRtp: (packet) => {
      audioSequence.push(packet.header.sequenceNumber);
      audio.push(packet.serialize());
    },
  });
  await hub.start();
  cleanups.push(() => hub.stop());
  return { hub, video, audio, audioSequence };
}

/** A logger that keeps what is warned, by error code. */
function warningLog(): { log: pino.Logger; codes: string[] } {
  const codes: string[] = [];
  const log = pino({ level: "warn" }, { write: (line: string) => codes.push(JSON.parse(line).error?.code) });
  return { log, codes };
}

describe("publishing sound", () => {
  it("sends the room camera's Opus beside its H.264 in one WHIP session: the hub decodes both", async () => {
    const { hub, video, audio } = await hubWithDecoders();
    const agent = await agentFor(testConfig(hub.endpoint, WITH_TONE));
    agent.pressButton();
    await waitFor("live", () => agent.session.report().state === "live");
    await waitFor("30 decoded frames", () => video.frames >= 30);
    await waitFor("2 s of decoded sound", () => audio.levelsDb.length >= 4, 10_000);
    expect(hub.requests.map((request) => request.method)).toEqual(["POST"]);
    const offer = hub.offers[0] ?? "";
    expect(offer).toMatch(/^m=audio [1-9]\d* UDP\/TLS\/RTP\/SAVPF \d+/m);
    expect(offer).toMatch(/a=rtpmap:\d+ opus\/48000\/2/);
    expect(offer).toMatch(/a=fmtp:\d+ minptime=10;useinbandfec=1/);
    expect(offer).toMatch(/a=sendonly[\s\S]*m=audio[\s\S]*a=sendonly/);
    // The 440 Hz tone at volume 0.2, as the hub hears it: -17 dBFS, steady (the first reading may be short).
    for (const level of audio.levelsDb.slice(1)) expect(level).toBeCloseTo(-17, 0);
    const [session] = hub.sessions.values();
    expect(session?.audioPackets).toBeGreaterThan(50);
    // The worker reports its meter every couple of seconds: its first report may predate the first level.
    await waitFor(
      "the camera's sound shown as flowing",
      () => agent.session.feedStatuses()[0]?.audio?.flowing === true,
    );
    expect(agent.session.feedStatuses()[0]?.audio?.levelDb).toBeCloseTo(-17, 0);
  });

  it("keeps the sound one stream across a worker restart: no jump in the audio sequence", async () => {
    const { hub, audio, audioSequence } = await hubWithDecoders();
    const agent = await agentFor(testConfig(hub.endpoint, WITH_TONE));
    agent.pressButton();
    await waitFor("sound", () => audio.levelsDb.length >= 2, 10_000);
    const [worker] = await workerPids(agent);
    process.kill(requiredPid(worker), "SIGKILL");
    await waitFor("a restart", () => agent.session.feedStatuses()[0]?.restarts === 1);
    await waitFor("running again", () => agent.session.feedStatuses()[0]?.state === "running");
    const before = audioSequence.length;
    await waitFor("sound from the new worker", () => audioSequence.length >= before + 100, 10_000);
    expect(largestSequenceStep(audioSequence)).toBeLessThanOrEqual(5);
    const heard = audio.levelsDb.length;
    await waitFor("the new worker's sound decoded", () => audio.levelsDb.length >= heard + 2, 5000);
    expect(audio.levelsDb.at(-1)).toBeCloseTo(-17, 0);
  });

  it("publishes video only, with a warning, to a hub that rejects the audio", async () => {
    const { hub, video } = await hubWithDecoders({ rejectAudio: true });
    const { log, codes } = warningLog();
    const agent = await agentFor(testConfig(hub.endpoint, WITH_TONE), { log });
    agent.pressButton();
    await waitFor("live", () => agent.session.report().state === "live");
    await waitFor("30 decoded frames", () => video.frames >= 30);
    expect(codes).toContain("SPOKE_WHIP_AUDIO_REJECTED");
    expect([...hub.sessions.values()].map((session) => session.audioPackets)).toEqual([0]);
  });
});

/** A publisher on its own (no feed worker), connected to a fresh hub, with its warnings captured. */
async function connectedPublisher(): Promise<{
  hub: WeriftWhipHub;
  publisher: WeriftPublisher;
  warnings: unknown[];
}> {
  const hub = new WeriftWhipHub();
  await hub.start();
  cleanups.push(() => hub.stop());
  const warnings: unknown[] = [];
  const log = pino({ level: "warn" }, { write: (line: string) => warnings.push(JSON.parse(line).error) });
  const publisher = new WeriftPublisher(
    plannedFeed(testConfig(hub.endpoint)),
    { onKeyframeRequest: () => {}, onConnectionLost: () => {} },
    log,
  );
  cleanups.push(() => publisher.close());
  await publisher.connect();
  return { hub, publisher, warnings };
}

/** Open UDP sockets in this process: a peer connection holds one per ICE host candidate. */
function udpSockets(): number {
  return process.getActiveResourcesInfo().filter((resource) => resource === "UDPWrap").length;
}

/** The kinds of ICE candidate in an SDP (host, srflx, relay), each once. */
function candidateTypes(sdp: string | undefined): string[] {
  return [...new Set((sdp ?? "").match(/(?<= typ )\w+/g))].sort();
}

describe("the WebRTC publisher", () => {
  it("asks no STUN server (werift's default is Google's): host candidates only, no server name resolved", async () => {
    const lookups = vi.spyOn(dnsPromises, "lookup");
    const { hub } = await connectedPublisher();
    expect(lookups.mock.calls.map(([host]) => host)).toEqual([]);
    expect(candidateTypes(hub.offers[0])).toEqual(["host"]);
  });

  it("closes its peer even when the hub's answer to DELETE breaks off, and logs why", async () => {
    const before = udpSockets();
    const { hub, publisher, warnings } = await connectedPublisher();
    expect(udpSockets()).toBeGreaterThan(before);
    breakAnswerBodies();
    await publisher.close();
    expect([...hub.sessions.values()].map((session) => session.deleted)).toEqual([true]);
    expect(warnings).toEqual([
      {
        code: "SPOKE_WHIP_UNREACHABLE",
        message: expect.stringMatching(/^WHIP DELETE http:\S+: the connection dropped: terminated$/),
      },
    ]);
    // The hub closed its peer on DELETE: once the publisher's is closed too, no ICE socket is left.
    await waitFor("the peers' UDP sockets closed", () => udpSockets() === before, 2000);
  });
});
