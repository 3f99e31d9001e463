/**
 * How long video takes to come back after the hub restarts: runs the compiled agent as its own process
 * with N test feeds published to a werift WHIP hub in this process, each feed's video decoded by its own
 * GStreamer decoder behind the hub. Each run kills the hub (every peer closed without a word, HTTP
 * down), leaves it down for a while, and starts it again on the same port.
 *
 *   npm run bench:reconnect -- [--feeds 3] [--runs 5] [--down 3] [--width 1280 --height 720]
 *
 * Prints, over all runs and feeds: hub killed → the session `degraded` (the silence detection), and hub
 * back → first decoded frame of each feed (p50/p95), and of the last feed of each run.
 */
import type { ChildProcess } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { sendControlCommand } from "../agent/adapters/control/control-client.js";
import { exited, spawnAgent, waitForControlSocket } from "../test/helpers/agent-process.js";
import { GstDecoder } from "../test/helpers/gst-decoder.js";
import { WeriftWhipHub } from "../test/helpers/werift-whip-hub.js";
import { benchConfigFromArgs, feedOptions } from "./bench-config.js";
import { durationSummary } from "./stats.js";

const { values } = parseArgs({
  options: {
    ...feedOptions(3),
    runs: { type: "string", default: "5" },
    down: { type: "string", default: "3" },
    settle: { type: "string", default: "3" },
  },
});
const feedCount = Number(values.feeds);

function summary(name: string, times: number[]): void {
  console.log(`  ${name.padEnd(36)} ${durationSummary(times)}`);
}

/** A hub whose sessions each get their own decoder, by the SSRC their video comes with. */
async function hubWithDecoders(
  port?: number,
): Promise<{ hub: WeriftWhipHub; decoders: GstDecoder[]; firstRtpAt: number[] }> {
  const decoders = Array.from({ length: feedCount }, () => new GstDecoder());
  const firstRtpAt: number[] = [];
  await Promise.all(decoders.map((decoder) => decoder.start()));
  const bySsrc = new Map<number, GstDecoder>();
  const hub = new WeriftWhipHub({
    ...(port !== undefined && { port }),
    onRtp: (packet) => {
      let decoder = bySsrc.get(packet.header.ssrc);
      if (!decoder) {
        decoder = decoders[bySsrc.size];
        if (!decoder) return;
        firstRtpAt[bySsrc.size] = performance.now();
        bySsrc.set(packet.header.ssrc, decoder);
      }
      decoder.push(packet.serialize());
    },
  });
  await hub.start();
  return { hub, decoders, firstRtpAt };
}

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 30_000) {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`);
    await sleep(5);
  }
}

async function main(): Promise<void> {
  let current = await hubWithDecoders();
  const port = current.hub.port;
  const { config, dir } = benchConfigFromArgs(values, current.hub.endpoint);
  const agent: ChildProcess = spawnAgent(config, dir, { from: "dist" });
  const socket = config.control.socketPath;
  const sessionState = async () => {
    const response = await sendControlCommand(socket, "status");
    return response.ok ? response.session.state : "unknown";
  };
  const detections: number[] = [];
  const feedsBack: number[] = [];
  const allBack: number[] = [];
  try {
    await waitForControlSocket(socket);
    await sendControlCommand(socket, "start");
    await until("first frames", () => current.decoders.every((decoder) => decoder.frames > 0));
    console.log(
      `spoke hub restart benchmark: ${feedCount} × ${values.width}x${values.height} x264, ${values.runs} runs, hub down ${values.down} s`,
    );
    for (let run = 0; run < Number(values.runs); run += 1) {
      await sleep(Number(values.settle) * 1000);
      const killedAt = performance.now();
      await current.hub.kill();
      const old = current;
      await until("degraded session", async () => (await sessionState()) === "degraded");
      detections.push(performance.now() - killedAt);
      await sleep(Math.max(0, Number(values.down) * 1000 - (performance.now() - killedAt)));
      for (const decoder of old.decoders) await decoder.stop();
      current = await hubWithDecoders(port);
      const backAt = performance.now();
      const firstFrames = current.decoders.map(() => Number.NaN);
      await until("decoded frames from every feed", () => {
        current.decoders.forEach((decoder, i) => {
          if (decoder.frames > 0 && Number.isNaN(firstFrames[i])) firstFrames[i] = performance.now() - backAt;
        });
        return firstFrames.every((time) => !Number.isNaN(time));
      });
      feedsBack.push(...firstFrames);
      allBack.push(Math.max(...firstFrames));
      await until("live session", async () => (await sessionState()) === "live");
      const open = current.hub.openSessions.length;
      // First RTP in order of arrival (the feeds' order may differ from their decoders'): tells a late
      // connection from a late keyframe.
      const firstRtp = [...current.firstRtpAt]
        .sort((a, b) => a - b)
        .map((t) => `${(t - backAt).toFixed(0)} ms`);
      console.log(
        `  run ${run + 1}: degraded after ${detections.at(-1)?.toFixed(0)} ms; first RTP ${firstRtp.join(", ")}; frames back ${firstFrames.map((t) => `${t.toFixed(0)} ms`).join(", ")}; ${open} sessions at the hub`,
      );
      if (open !== feedCount) throw new Error(`${open} sessions at the hub, expected ${feedCount}`);
    }
    summary("hub killed → session degraded", detections);
    summary("hub back → first decoded frame", feedsBack);
    summary("hub back → every feed decoded", allBack);
  } finally {
    agent.kill("SIGTERM");
    await exited(agent);
    await current.hub.stop();
    for (const decoder of current.decoders) await decoder.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
