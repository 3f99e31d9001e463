import { createSocket } from "node:dgram";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { WeriftPublisher } from "../../agent/adapters/webrtc/werift-publisher.js";
import { startAgent } from "../../agent/main.js";
import { plannedFeed, QUICK_TIMINGS, testConfig, testLog } from "../helpers/agent-fixtures.js";
import { GstDecoder, GstOpusDecoder } from "../helpers/gst-decoder.js";
import { GstRtpSource } from "../helpers/gst-rtp-source.js";
import { JANUS_ROOM, Janus } from "../helpers/janus.js";
import { JanusWhipFront, type JanusWhipResource } from "../helpers/janus-whip.js";
import { waitFor } from "../helpers/wait.js";

/**
 * Janus, an SFU with its own ICE, DTLS and RTP stack (libnice, libsrtp), as the hub: its VideoRoom
 * takes Spoke's publication through a thin WHIP front, and what it forwards (`rtp_forward`, as to a
 * recorder) is decoded by GStreamer.
 */

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function started<T extends { start(): Promise<void>; stop(): Promise<void> }>(part: T): Promise<T> {
  await part.start();
  cleanups.push(() => part.stop());
  return part;
}

async function janusHub(): Promise<{ janus: Janus; front: JanusWhipFront }> {
  const janus = await started(new Janus());
  const front = await started(new JanusWhipFront(janus));
  return { janus, front };
}

/** A loopback UDP port whose packets go to `onPacket` (where Janus forwards RTP to). */
async function udpPort(onPacket: (packet: Buffer) => void): Promise<number> {
  const socket = createSocket("udp4");
  socket.on("message", onPacket);
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  cleanups.push(async () => {
    socket.close();
  });
  return (socket.address() as AddressInfo).port;
}

function onlyResource(front: JanusWhipFront): JanusWhipResource {
  const resources = [...front.resources.values()];
  expect(resources).toHaveLength(1);
  const [resource] = resources;
  if (!resource) throw new Error("no WHIP resource");
  return resource;
}

/** Janus says the publisher's PeerConnection is up (DTLS done), as its `webrtcup` event. */
async function webrtcUp(janus: Janus, resource: JanusWhipResource): Promise<void> {
  try {
    await waitFor(
      "Janus's webrtcup",
      () => resource.events.some((event) => event.janus === "webrtcup"),
      15_000,
    );
  } catch (error) {
    throw new Error(`${String(error)}\nevents: ${JSON.stringify(resource.events)}\njanus:\n${janus.log}`);
  }
}

async function participants(janus: Janus, resource: JanusWhipResource): Promise<unknown[]> {
  const list = await janus.request(`/${resource.session}/${resource.handle}`, {
    janus: "message",
    body: { request: "listparticipants", room: JANUS_ROOM },
  });
  return (list.plugindata?.data.participants as unknown[] | undefined) ?? [];
}

describe(`Janus VideoRoom as the hub`, () => {
  it("takes a GStreamer test feed from Spoke's publisher and forwards video that decodes", async () => {
    const { janus, front } = await janusHub();
    const publisher = new WeriftPublisher(
      plannedFeed(testConfig(front.endpoint)),
      { onKeyframeRequest: () => {}, onConnectionLost: () => {} },
      testLog,
    );
    cleanups.push(() => publisher.close());
    await publisher.connect();
    await started(new GstRtpSource((packet) => publisher.writeRtp(packet)));
    const resource = onlyResource(front);
    await webrtcUp(janus, resource);
    const decoder = await started(new GstDecoder());
    const forwarded = await front.rtpForward(resource, {
      video: await udpPort((packet) => decoder.push(packet)),
    });
    expect(forwarded.plugindata?.data).toMatchObject({
      videoroom: "rtp_forward",
      publisher_id: resource.publisherId,
    });
    await waitFor("30 frames decoded from Janus's forward", () => decoder.frames >= 30, 20_000);
    expect({ width: decoder.width, height: decoder.height }).toEqual({ width: 640, height: 360 });
    expect(janus.version).toMatch(/^1\.1\./);
  }, 60_000);

  it("takes the agent's room camera with its sound: both forwarded and decoded; DELETE leaves the room", async () => {
    const { janus, front } = await janusHub();
    const config = testConfig(front.endpoint, {
      feed: { audio: { source: { type: "test", frequencyHz: 440 } } },
    });
    const agent = await startAgent(config, { log: testLog, workerTimings: QUICK_TIMINGS });
    let stopped = false;
    cleanups.push(async () => {
      if (!stopped) await agent.stop();
    });
    agent.pressButton();
    await waitFor("live", () => agent.session.report().state === "live", 20_000);
    const resource = onlyResource(front);
    await webrtcUp(janus, resource);
    const video = await started(new GstDecoder());
    const audio = await started(new GstOpusDecoder());
    await front.rtpForward(resource, {
      video: await udpPort((packet) => video.push(packet)),
      audio: await udpPort((packet) => audio.push(packet)),
    });
    await waitFor("30 frames decoded", () => video.frames >= 30, 20_000);
    await waitFor("a second of decoded sound", () => audio.levelsDb.length >= 2, 20_000);
    // A 440 Hz test tone, heard: well above silence.
    expect(Math.max(...audio.levelsDb)).toBeGreaterThan(-40);
    expect(await participants(janus, resource)).toHaveLength(1);

    await agent.stop();
    stopped = true;
    expect(resource.deleted).toBe(true);
    // The front's own session is gone with the DELETE; ask from a new one.
    const created = await janus.request("", { janus: "create" });
    const session = created.data?.id ?? 0;
    const attached = await janus.request(`/${session}`, {
      janus: "attach",
      plugin: "janus.plugin.videoroom",
    });
    const probe = { ...resource, session, handle: attached.data?.id ?? 0 };
    expect(await participants(janus, probe)).toEqual([]);
  }, 60_000);
});
