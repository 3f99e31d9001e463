import { afterEach, describe, expect, it } from "vitest";
import { NodeDatachannelPublisher } from "../../agent/adapters/webrtc/node-datachannel-publisher.js";
import { type RunningAgent, startAgent } from "../../agent/main.js";
import { plannedFeed, QUICK_TIMINGS, testConfig, testLog } from "../helpers/agent-fixtures.js";
import { GstDecoder, GstOpusDecoder } from "../helpers/gst-decoder.js";
import { waitFor } from "../helpers/wait.js";
import { WeriftWhipHub } from "../helpers/werift-whip-hub.js";

/**
 * The second WebRTC stack behind the publisher port: the agent, with node-datachannel instead of
 * werift, publishes a real feed to a werift hub, whose received RTP a real decoder decodes.
 */

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function agentWithNodeDatachannel(config: ReturnType<typeof testConfig>): Promise<RunningAgent> {
  const agent = await startAgent(config, {
    log: testLog,
    workerTimings: QUICK_TIMINGS,
    publisherFactory: (feed, events, log) => new NodeDatachannelPublisher(feed, events, log),
  });
  cleanups.push(() => agent.stop());
  return agent;
}

/** A keyframe starts here: an IDR slice on its own, or the first fragment of one (FU-A, start bit). */
function startsKeyframe(payload: Buffer): boolean {
  const nal = (payload[0] ?? 0) & 0x1f;
  return nal === 5 || (nal === 28 && ((payload[1] ?? 0) & 0x9f) === 0x85);
}

describe("publishing with node-datachannel", () => {
  it("delivers video the hub decodes at the feed's size, with the negotiated payload type", async () => {
    const decoder = new GstDecoder();
    await decoder.start();
    cleanups.push(() => decoder.stop());
    const payloadTypes = new Set<number>();
    const hub = new WeriftWhipHub({
      onRtp: (packet) => {
        payloadTypes.add(packet.header.payloadType);
        decoder.push(packet.serialize());
      },
    });
    await hub.start();
    cleanups.push(() => hub.stop());
    const agent = await agentWithNodeDatachannel(testConfig(hub.endpoint));
    agent.pressButton();
    await waitFor("live", () => agent.session.report().state === "live");
    await waitFor("60 decoded frames", () => decoder.frames >= 60, 20_000);
    expect({ width: decoder.width, height: decoder.height }).toEqual({ width: 640, height: 360 });
    expect([...payloadTypes]).toEqual([96]);
    agent.pressButton();
    await waitFor("idle", () => agent.session.report().state === "idle");
    expect(hub.requests.map((request) => request.method)).toEqual(["POST", "DELETE"]);
  });

  it("answers the hub's PLI with a keyframe from the encoder", async () => {
    let keyframes = 0;
    const hub = new WeriftWhipHub({
      onRtp: (packet) => {
        if (startsKeyframe(packet.payload)) keyframes += 1;
      },
    });
    await hub.start();
    cleanups.push(() => hub.stop());
    const agent = await agentWithNodeDatachannel(
      testConfig(hub.endpoint, { feed: { keyframeIntervalSeconds: 10 } }),
    );
    agent.pressButton();
    await waitFor("the first keyframe", () => keyframes > 0, 20_000);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const before = keyframes;
    const [session] = hub.sessions.values();
    await session?.requestKeyframe();
    await waitFor("a keyframe after the PLI", () => keyframes > before, 2000);
  });

  it("carries the camera's sound beside the picture", async () => {
    const opus = new GstOpusDecoder();
    await opus.start();
    cleanups.push(() => opus.stop());
    const hub = new WeriftWhipHub({ onAudioRtp: (packet) => opus.push(packet.serialize()) });
    await hub.start();
    cleanups.push(() => hub.stop());
    const agent = await agentWithNodeDatachannel(
      testConfig(hub.endpoint, { feed: { audio: { source: { type: "test", frequencyHz: 440 } } } }),
    );
    agent.pressButton();
    await waitFor("decoded sound", () => opus.levelsDb.length >= 4, 20_000);
    expect(Math.max(...opus.levelsDb)).toBeGreaterThan(-40);
  });

  it("says it cannot restart ICE, so the caller makes a new session", async () => {
    const hub = new WeriftWhipHub();
    await hub.start();
    cleanups.push(() => hub.stop());
    const publisher = new NodeDatachannelPublisher(
      plannedFeed(testConfig(hub.endpoint)),
      { onKeyframeRequest: () => undefined, onConnectionLost: () => undefined },
      testLog,
    );
    cleanups.push(() => publisher.close());
    await publisher.connect();
    expect(await publisher.restartIce()).toBe("unsupported");
    expect(hub.patches).toEqual([]);
  });
});
