import { createSocket } from "node:dgram";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SystemSourceResolver } from "../../agent/adapters/devices/system-source-resolver.js";
import { FeedRunner, type FeedRunnerDeps } from "../../agent/adapters/gstreamer/feed-runner.js";
import { FeedWorkerProcess } from "../../agent/adapters/gstreamer/feed-worker-process.js";
import { forkOnDemand, WorkerPool } from "../../agent/adapters/gstreamer/worker-pool.js";
import type { MediaFeedEvents } from "../../agent/app/ports.js";
import type { SpokeError } from "../../agent/core/errors.js";
import type { FeedStatus } from "../../agent/core/feed-status.js";
import { buildFeedPipeline } from "../../pipelines/feed-pipeline.js";
import {
  plannedFeed,
  plannedPipeline,
  QUICK_TIMINGS,
  testConfig,
  testLog,
} from "../helpers/agent-fixtures.js";
import { isAlive, requiredPid } from "../helpers/proc.js";
import { waitFor } from "../helpers/wait.js";

/** The H.264 NAL unit types one RTP packet carries (single NAL, STAP-A or FU-A start). */
function nalTypes(packet: Buffer): number[] {
  const offset = 12 + ((packet[0] ?? 0) & 0x0f) * 4;
  const type = (packet[offset] ?? 0) & 0x1f;
  if (type === 28) return (packet[offset + 1] ?? 0) & 0x80 ? [(packet[offset + 1] ?? 0) & 0x1f] : [];
  if (type !== 24) return [type];
  const types: number[] = [];
  for (let i = offset + 1; i + 2 < packet.length; i += 2 + packet.readUInt16BE(i))
    types.push((packet[i + 2] ?? 0) & 0x1f);
  return types;
}

interface Recorder extends MediaFeedEvents {
  packets: Buffer[];
  audioPackets: Buffer[];
  states: FeedStatus["state"][];
  failures: SpokeError[];
  /** For each new encoder announced, how many packets had arrived before it. */
  newEncoderAt: number[];
}

function recorder(): Recorder {
  const r: Recorder = {
    packets: [],
    audioPackets: [],
    states: [],
    failures: [],
    newEncoderAt: [],
    onPacket: (packet) => r.packets.push(packet),
    onAudioPacket: (packet) => r.audioPackets.push(packet),
    onStateChange: (status) => r.states.push(status.state),
    onFailure: (error) => r.failures.push(error),
    onNewEncoder: () => {
      r.newEncoderAt.push(r.packets.length);
    },
  };
  return r;
}

/** The feed runs again on its n-th encoder. */
function restarted(r: Recorder, times = 1): boolean {
  return r.newEncoderAt.length === times && r.states.at(-1) === "running";
}

const ssrc = (packet: Buffer | undefined): number | undefined => packet?.readUInt32BE(8);

const runners: FeedRunner[] = [];
const pool = new WorkerPool(testLog, { refillDelayMs: 200, respawnDelayMs: 200 });

function runner(
  events: MediaFeedEvents,
  config = testConfig("http://127.0.0.1:9/whip"),
  options: { timings?: typeof QUICK_TIMINGS; deps?: Partial<FeedRunnerDeps> } = {},
): FeedRunner {
  const created = new FeedRunner(
    plannedFeed(config),
    new SystemSourceResolver(),
    options.timings ?? QUICK_TIMINGS,
    events,
    testLog,
    { workers: pool, ...options.deps },
  );
  runners.push(created);
  return created;
}

beforeAll(() => pool.start());
afterAll(() => pool.stop());

afterEach(async () => {
  for (const r of runners.splice(0)) await r.stop();
});

describe("feed worker", () => {
  it("sends H.264 RTP from a real GStreamer pipeline in its own process", async () => {
    const events = recorder();
    const feedRunner = runner(events);
    await feedRunner.start();
    await waitFor("100 packets", () => events.packets.length >= 100);
    expect(feedRunner.workerPid).not.toBe(process.pid);
    expect(events.states).toEqual(["starting", "running"]);
    expect(events.packets.every((packet) => packet[0] === 0x80 && ((packet[1] ?? 0) & 0x7f) === 96)).toBe(
      true,
    );
    expect(feedRunner.snapshot().packetsForwarded).toBeGreaterThanOrEqual(100);
  });

  it("answers a keyframe request with a keyframe, and never sends an access unit without a picture", async () => {
    const events = recorder();
    const feedRunner = runner(events);
    await feedRunner.start();
    await waitFor("first packets", () => events.packets.length > 30);
    const from = events.packets.length;
    feedRunner.requestKeyframe();
    await waitFor("a few frames after the request", () => events.packets.length > from + 150);
    const after = events.packets.slice(from);
    expect(after.slice(0, 60).some((packet) => nalTypes(packet).includes(5))).toBe(true);
    // Chromium answers a marker-terminated unit with no slice (SPS/PPS only) with another PLI.
    let unit: number[] = [];
    for (const packet of after) {
      unit.push(...nalTypes(packet));
      if (((packet[1] ?? 0) & 0x80) === 0) continue;
      expect(unit.some((type) => type === 1 || type === 5)).toBe(true);
      unit = [];
    }
  });

  it("follows a bitrate change at run time, and keeps it across a restart", async () => {
    const events = recorder();
    const config = testConfig("http://127.0.0.1:9/whip", {
      feed: { source: { type: "test", pattern: "snow" }, bitrateKbps: 2000 },
    });
    const feedRunner = runner(events, config);
    await feedRunner.start();
    const kbpsOver = async (ms: number): Promise<number> => {
      const from = events.packets.length;
      await new Promise((resolve) => setTimeout(resolve, ms));
      const bytes = events.packets.slice(from).reduce((sum, packet) => sum + packet.length, 0);
      return (bytes * 8) / ms;
    };
    const configured = await kbpsOver(1500);
    feedRunner.setBitrate(300);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const lowered = await kbpsOver(1500);
    expect(configured).toBeGreaterThan(1200);
    expect(lowered).toBeLessThan(configured / 3);
    process.kill(requiredPid(feedRunner.workerPid), "SIGKILL");
    await waitFor("the restart", () => restarted(events));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await kbpsOver(1500)).toBeLessThan(configured / 3);
  });

  it("paces a burst of keyframe requests: one keyframe now, then at most one per half second", async () => {
    const events = recorder();
    const feedRunner = runner(events);
    await feedRunner.start();
    await waitFor("first packets", () => events.packets.length > 30);
    const from = events.packets.length;
    // A viewer on a lossy link (or many viewers): a request every 50 ms for a second.
    for (let i = 0; i < 20; i += 1) {
      feedRunner.requestKeyframe();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, 600));
    const keyframeTimestamps = new Set(
      events.packets
        .slice(from)
        .filter((packet) => nalTypes(packet).includes(5))
        .map((packet) => packet.readUInt32BE(4)),
    );
    // Forced at 0, 0.5 and 1 s (the last request answered late), and perhaps one of the encoder's own.
    expect(keyframeTimestamps.size).toBeGreaterThanOrEqual(2);
    expect(keyframeTimestamps.size).toBeLessThanOrEqual(4);
  });

  it("reports the worker's own CPU and memory", async () => {
    const feedRunner = runner(recorder());
    await feedRunner.start();
    await waitFor("worker stats", () => feedRunner.snapshot().workerMemoryBytes !== undefined, 5000);
    const status = feedRunner.snapshot();
    expect(status.workerMemoryBytes).toBeGreaterThan(20 * 1024 * 1024);
    expect(status.workerCpuPercent).toBeGreaterThan(0);
  });

  it("sends the microphone's Opus beside the video on its own port, and reports that sound flows", async () => {
    const events = recorder();
    const config = testConfig("http://127.0.0.1:9/whip", {
      feed: { audio: { source: { type: "test", frequencyHz: 440 } } },
    });
    const feedRunner = runner(events, config);
    expect(feedRunner.snapshot().audio).toEqual({ flowing: false, packetsForwarded: 0 });
    await feedRunner.start();
    await waitFor("100 audio packets", () => events.audioPackets.length >= 100, 5000);
    const payloadTypes = (packets: Buffer[]) => new Set(packets.map((packet) => (packet[1] ?? 0) & 0x7f));
    expect(payloadTypes(events.audioPackets)).toEqual(new Set([111]));
    expect(payloadTypes(events.packets)).toEqual(new Set([96]));
    expect(ssrc(events.audioPackets[0])).not.toBe(ssrc(events.packets[0]));
    await waitFor("a level from the worker", () => feedRunner.snapshot().audio?.levelDb !== undefined, 5000);
    const audio = feedRunner.snapshot().audio;
    expect(audio?.flowing).toBe(true);
    expect(audio?.packetsForwarded).toBeGreaterThanOrEqual(100);
    // A sine at volume 0.2 has an RMS of 0.2/√2: -17 dBFS.
    expect(audio?.levelDb).toBeCloseTo(-17, 0);
  });

  it("keeps a feed without a microphone free of audio: no port, no packets, no audio status", async () => {
    const events = recorder();
    const feedRunner = runner(events);
    await feedRunner.start();
    await waitFor("100 packets", () => events.packets.length >= 100);
    expect(events.audioPackets).toEqual([]);
    expect(feedRunner.snapshot().audio).toBeUndefined();
  });

  it("reports a missing capture device by name instead of hanging", async () => {
    const config = testConfig("http://127.0.0.1:9/whip", {
      feed: { source: { type: "v4l2", device: "/dev/video-missing" } },
    });
    const events = recorder();
    const feedRunner = runner(events, config);
    // It does not fail: it waits for the device, saying why.
    expect(await feedRunner.start()).toBe("waiting");
    expect(feedRunner.snapshot()).toMatchObject({
      state: "restarting",
      lastError: {
        code: "SPOKE_FEED_SOURCE_MISSING",
        message: "capture device /dev/video-missing does not exist",
      },
    });
    expect(events.failures[0]?.code).toBe("SPOKE_FEED_SOURCE_MISSING");
    expect(events.packets).toHaveLength(0);
  });

  it("forwards only the worker's RTP: datagrams from anyone else on the box are dropped", async () => {
    const worker = new FeedWorkerProcess("room-camera", QUICK_TIMINGS, testLog, forkOnDemand);
    const plan = plannedPipeline(testConfig("http://127.0.0.1:9/whip"));
    const received: Buffer[] = [];
    let rtpPort = 0;
    const handlers = {
      onRtp: (p: Buffer) => received.push(p),
      onFailure: () => undefined,
      onStats: () => undefined,
    };
    await worker.start((ports) => {
      rtpPort = ports.video;
      return buildFeedPipeline(plan, ports);
    }, handlers);
    const intruder = createSocket("udp4");
    const forged = Buffer.alloc(40);
    forged[0] = 0x80; // RTP version 2
    forged.writeUInt32BE(0xdeadbeef, 8);
    for (const datagram of [Buffer.alloc(1), Buffer.from("not rtp at all"), forged]) {
      await new Promise((resolve) => intruder.send(datagram, rtpPort, "127.0.0.1", resolve));
    }
    const count = received.length;
    await waitFor("more video from the worker", () => received.length > count + 30);
    intruder.close();
    await worker.stop();
    expect(received.filter((packet) => packet.length < 12 || ssrc(packet) === 0xdeadbeef)).toEqual([]);
    expect(new Set(received.map(ssrc)).size).toBe(1);
  });

  it("reports a pipeline GStreamer cannot build", async () => {
    const worker = new FeedWorkerProcess("broken", QUICK_TIMINGS, testLog, forkOnDemand);
    const handlers = { onRtp: () => undefined, onFailure: () => undefined, onStats: () => undefined };
    await expect(
      worker.start(
        () => ({ description: { chains: [] }, launch: "videotestsrc ! no-such-element ! fakesink" }),
        handlers,
      ),
    ).rejects.toMatchObject({
      code: "SPOKE_FEED_PIPELINE_INVALID",
    });
    expect(isAlive(worker.pid)).toBe(false);
  });

  it("notices a worker killed with SIGKILL, reports it and restarts it", async () => {
    const events = recorder();
    const feedRunner = runner(events);
    await feedRunner.start();
    const firstPid = feedRunner.workerPid;
    process.kill(requiredPid(firstPid), "SIGKILL");
    await waitFor("the restart", () => restarted(events));
    expect(events.failures.map((error) => error.code)).toEqual(["SPOKE_FEED_WORKER_EXITED"]);
    expect(events.failures[0]?.message).toBe("feed worker killed by SIGKILL");
    expect(events.states).toEqual(["starting", "running", "restarting", "running"]);
    expect(feedRunner.workerPid).not.toBe(firstPid);
    // The new encoder is announced before its first packet, so the publisher can splice the streams.
    const [splice = 0] = events.newEncoderAt;
    const before = new Set(events.packets.slice(0, splice).map(ssrc));
    expect(before.size).toBe(1);
    expect(before.has(ssrc(events.packets[splice]))).toBe(false);
    const count = events.packets.length;
    await waitFor("packets from the new worker", () => events.packets.length > count + 30);
    expect(feedRunner.snapshot()).toMatchObject({
      state: "running",
      restarts: 1,
      lastError: { code: "SPOKE_FEED_WORKER_EXITED" },
    });
  });

  it("stays stopped when stopped while a replacement worker is starting", async () => {
    const events = recorder();
    const feedRunner = runner(events);
    await feedRunner.start();
    const firstPid = feedRunner.workerPid;
    process.kill(requiredPid(firstPid), "SIGKILL");
    // The replacement is forked but has not sent video yet: its start is in progress.
    await waitFor("the replacement fork", () => (feedRunner.workerPid ?? firstPid) !== firstPid);
    await feedRunner.stop();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(feedRunner.snapshot()).toMatchObject({ state: "stopped", restarts: 1 });
    expect(events.failures).toHaveLength(1);
    expect(events.states.at(-1)).toBe("stopped");
  });

  it("kills and restarts a worker whose pipeline stalls", async () => {
    const events = recorder();
    const feedRunner = runner(events);
    await feedRunner.start();
    const stuckPid = requiredPid(feedRunner.workerPid);
    process.kill(stuckPid, "SIGSTOP");
    await waitFor("the restart", () => restarted(events));
    expect(events.failures.map((error) => error.code)).toEqual(["SPOKE_FEED_STALLED"]);
    await waitFor("the stuck worker to be killed", () => !isAlive(stuckPid));
  });

  it("kills a worker that does not exit when asked to stop", async () => {
    const feedRunner = runner(recorder());
    await feedRunner.start();
    const pid = requiredPid(feedRunner.workerPid);
    // A stopped process cannot act on the stop message: it stands for a worker hung in GStreamer.
    process.kill(pid, "SIGSTOP");
    await feedRunner.stop();
    expect(isAlive(pid)).toBe(false);
  });

  it("leaves no worker process behind when stopped", async () => {
    const feedRunner = runner(recorder());
    await feedRunner.start();
    const pid = requiredPid(feedRunner.workerPid);
    expect(isAlive(pid)).toBe(true);
    await feedRunner.stop();
    expect(isAlive(pid)).toBe(false);
    expect(feedRunner.snapshot().state).toBe("stopped");
  });

  it.each(["SIGKILL", "SIGSEGV"] as const)(
    "restarts a feed whose worker dies of %s from the spare, while the other feed streams on",
    async (signal) => {
      const crashing = recorder();
      const other = recorder();
      const crashingRunner = runner(crashing);
      const otherRunner = runner(
        other,
        testConfig("http://127.0.0.1:9/whip", { feed: { id: "second-camera" } }),
      );
      await Promise.all([crashingRunner.start(), otherRunner.start()]);
      await waitFor("a spare worker", () => pool.sparePid !== undefined);
      const spare = pool.sparePid;
      const otherBefore = other.packets.length;
      process.kill(requiredPid(crashingRunner.workerPid), signal);
      await waitFor("the restart", () => restarted(crashing));
      expect(crashingRunner.workerPid).toBe(spare);
      expect(crashing.failures.map((error) => error.message)).toEqual([`feed worker killed by ${signal}`]);
      // The other feed neither stopped nor noticed.
      expect(other.packets.length).toBeGreaterThan(otherBefore);
      const count = crashing.packets.length;
      const otherCount = other.packets.length;
      await waitFor(
        "both feeds streaming",
        () => crashing.packets.length > count + 30 && other.packets.length > otherCount + 30,
      );
      expect(other.failures).toEqual([]);
      expect(other.states).toEqual(["starting", "running"]);
    },
  );

  it("keeps a spare ready: one that dies is replaced", async () => {
    await waitFor("a spare worker", () => pool.sparePid !== undefined);
    const spare = requiredPid(pool.sparePid);
    process.kill(spare, "SIGKILL");
    await waitFor("a new spare", () => pool.sparePid !== undefined && pool.sparePid !== spare);
    expect(isAlive(pool.sparePid)).toBe(true);
  });

  it("keeps a spare per feed while idle and one while live: taken spares are replaced up to that", async () => {
    const spares = new WorkerPool(testLog, { refillDelayMs: 100, idleSpares: 3, liveSpares: 1 });
    spares.start();
    try {
      await waitFor("three spares", () => spares.sparePids.length === 3, 20_000);
      spares.setLive(true);
      const ready = [...spares.sparePids].sort();
      const taken = [spares.take(), spares.take(), spares.take()];
      // A start of three feeds forks nothing: each takes a loaded spare.
      expect(taken.map((child) => child.pid).sort()).toEqual(ready);
      await waitFor("one spare while live", () => spares.sparePids.length === 1, 20_000);
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(spares.sparePids).toHaveLength(1);
      spares.setLive(false);
      await waitFor("three spares again", () => spares.sparePids.length === 3, 20_000);
      for (const child of taken) child.kill("SIGKILL");
    } finally {
      await spares.stop();
    }
    expect(spares.sparePids).toEqual([]);
  });

  it("restarts a worker that grows past its memory ceiling", async () => {
    const events = recorder();
    const feedRunner = runner(events, undefined, {
      timings: { ...QUICK_TIMINGS, memoryLimitBytes: 20 * 1024 * 1024 },
    });
    await feedRunner.start();
    const leakingPid = feedRunner.workerPid;
    await waitFor("the restart", () => events.failures.length > 0 && events.newEncoderAt.length > 0, 10_000);
    expect(events.failures[0]?.code).toBe("SPOKE_FEED_WORKER_LEAK");
    expect(events.failures[0]?.message).toMatch(
      /^feed room-camera: worker uses \d+ MB, over its 20 MB ceiling$/,
    );
    await waitFor("the leaking worker to be killed", () => !isAlive(leakingPid));
  });

  it("retries a feed whose device is gone, slowly once it keeps failing, and resumes when it is back", async () => {
    const device = join(mkdtempSync(join(tmpdir(), "spoke-device-")), "video0");
    writeFileSync(device, "");
    const events = recorder();
    const feedRunner = runner(events, undefined, {
      deps: {
        // The test picture stands for the camera; the file is the device node the worker checks for.
        buildPipeline: (plan, ports) => ({ ...buildFeedPipeline(plan, ports), sourceDevice: device }),
        restartPolicy: { baseMs: 200, maxMs: 1000, jitter: 0, slowAfterFailures: 3, slowEveryMs: 2000 },
      },
    });
    await feedRunner.start();
    // Unplugged: the worker dies and its restarts find no device.
    rmSync(device);
    process.kill(requiredPid(feedRunner.workerPid), "SIGKILL");
    await waitFor("slow retries", () => feedRunner.snapshot().retryingSlowly === true);
    expect(feedRunner.snapshot()).toMatchObject({
      state: "restarting",
      nextRetryInMs: 2000,
      lastError: { code: "SPOKE_FEED_SOURCE_MISSING", message: `capture device ${device} does not exist` },
    });
    expect(events.failures.map((error) => error.code)).toEqual([
      "SPOKE_FEED_WORKER_EXITED",
      "SPOKE_FEED_SOURCE_MISSING",
      "SPOKE_FEED_SOURCE_MISSING",
    ]);
    // Plugged back in: the next slow retry finds it.
    writeFileSync(device, "");
    await waitFor("the feed back", () => restarted(events), 10_000);
    const count = events.packets.length;
    await waitFor("video again", () => events.packets.length > count + 30);
    expect(feedRunner.snapshot().retryingSlowly).toBeUndefined();
    expect(feedRunner.snapshot().nextRetryInMs).toBeUndefined();
  });
});
