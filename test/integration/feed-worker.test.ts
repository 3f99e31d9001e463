import { afterEach, describe, expect, it } from "vitest";
import { FeedRunner } from "../../agent/adapters/gstreamer/feed-runner.js";
import { FeedWorkerProcess } from "../../agent/adapters/gstreamer/feed-worker-process.js";
import type { MediaFeedEvents } from "../../agent/app/ports.js";
import type { SpokeError } from "../../agent/core/errors.js";
import type { FeedStatus } from "../../agent/core/feed-status.js";
import { QUICK_TIMINGS, testConfig, testLog } from "../helpers/agent-fixtures.js";
import { isAlive } from "../helpers/proc.js";
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
  states: FeedStatus["state"][];
  failures: SpokeError[];
  restarted: number;
}

function recorder(): Recorder {
  const r: Recorder = {
    packets: [],
    states: [],
    failures: [],
    restarted: 0,
    onPacket: (packet) => r.packets.push(packet),
    onStateChange: (status) => r.states.push(status.state),
    onFailure: (error) => r.failures.push(error),
    onRestarted: () => {
      r.restarted += 1;
    },
  };
  return r;
}

const runners: FeedRunner[] = [];

function runner(events: MediaFeedEvents, config = testConfig("http://127.0.0.1:9/whip")): FeedRunner {
  const feed = config.feeds[0];
  if (!feed) throw new Error("no feed");
  const created = new FeedRunner(feed, QUICK_TIMINGS, events, testLog);
  runners.push(created);
  return created;
}

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
      feed: { source: { type: "test", pattern: "snow" } },
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
    process.kill(feedRunner.workerPid ?? 0, "SIGKILL");
    await waitFor("the restart", () => events.restarted === 1);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await kbpsOver(1500)).toBeLessThan(configured / 3);
  });

  it("reports the worker's own CPU and memory", async () => {
    const feedRunner = runner(recorder());
    await feedRunner.start();
    await waitFor("worker stats", () => feedRunner.snapshot().workerMemoryBytes !== undefined, 5000);
    const status = feedRunner.snapshot();
    expect(status.workerMemoryBytes).toBeGreaterThan(20 * 1024 * 1024);
    expect(status.workerCpuPercent).toBeGreaterThan(0);
  });

  it("reports a missing capture device by name instead of hanging", async () => {
    const config = testConfig("http://127.0.0.1:9/whip", {
      feed: { source: { type: "v4l2", device: "/dev/video-missing" } },
    });
    const events = recorder();
    const feedRunner = runner(events, config);
    await expect(feedRunner.start()).rejects.toMatchObject({
      code: "SPOKE_FEED_SOURCE_MISSING",
      message: "capture device /dev/video-missing does not exist",
    });
    expect(events.packets).toHaveLength(0);
  });

  it("reports a pipeline GStreamer cannot build", async () => {
    const worker = new FeedWorkerProcess("broken", QUICK_TIMINGS, testLog);
    const handlers = { onRtp: () => undefined, onFailure: () => undefined, onStats: () => undefined };
    await expect(
      worker.start(() => ({ launch: "videotestsrc ! no-such-element ! fakesink" }), handlers),
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
    process.kill(firstPid ?? 0, "SIGKILL");
    await waitFor("the restart", () => events.restarted === 1);
    expect(events.failures.map((error) => error.code)).toEqual(["SPOKE_FEED_WORKER_EXITED"]);
    expect(events.failures[0]?.message).toBe("feed worker killed by SIGKILL");
    expect(events.states).toEqual(["starting", "running", "restarting", "running"]);
    expect(feedRunner.workerPid).not.toBe(firstPid);
    const count = events.packets.length;
    await waitFor("packets from the new worker", () => events.packets.length > count + 30);
    expect(feedRunner.snapshot()).toMatchObject({
      state: "running",
      restarts: 1,
      lastError: { code: "SPOKE_FEED_WORKER_EXITED" },
    });
  });

  it("kills and restarts a worker whose pipeline stalls", async () => {
    const events = recorder();
    const feedRunner = runner(events);
    await feedRunner.start();
    const stuckPid = feedRunner.workerPid ?? 0;
    process.kill(stuckPid, "SIGSTOP");
    await waitFor("the restart", () => events.restarted === 1);
    expect(events.failures.map((error) => error.code)).toEqual(["SPOKE_FEED_STALLED"]);
    await waitFor("the stuck worker to be killed", () => !isAlive(stuckPid));
  });

  it("kills a worker that does not exit when asked to stop", async () => {
    const feedRunner = runner(recorder());
    await feedRunner.start();
    const pid = feedRunner.workerPid ?? 0;
    // A stopped process cannot act on the stop message: it stands for a worker hung in GStreamer.
    process.kill(pid, "SIGSTOP");
    await feedRunner.stop();
    expect(isAlive(pid)).toBe(false);
  });

  it("leaves no worker process behind when stopped", async () => {
    const feedRunner = runner(recorder());
    await feedRunner.start();
    const pid = feedRunner.workerPid;
    await feedRunner.stop();
    expect(isAlive(pid)).toBe(false);
    expect(feedRunner.snapshot().state).toBe("stopped");
  });
});
