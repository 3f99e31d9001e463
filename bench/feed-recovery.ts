/**
 * What a worker crash costs a live session, and what the media processes weigh: runs the compiled agent
 * as its own process with N test feeds published to a werift WHIP receiver in this process, then kills
 * one running feed worker at a time (SIGKILL and SIGSEGV) and times, at the hub, how long that feed's RTP
 * is gone.
 *
 *   npm run bench:recovery -- [--feeds 3] [--kills 10] [--width 1280 --height 720] [--settle 3]
 *
 * Prints: press → first RTP at the hub, crash → first RTP again (p50/p95 per signal), each feed worker's
 * CPU (% of one core) and memory, the spare's, the agent's, and the total of all Spoke processes. RSS
 * counts pages shared between processes (the Node binary, GStreamer's libraries) once per process; PSS
 * divides them among the processes sharing them, so the PSS total is what the box really gives Spoke.
 */
import type { ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { sendControlCommand } from "../agent/adapters/control/control-client.js";
import { exited, spawnAgent, waitForControlSocket } from "../test/helpers/agent-process.js";
import { childPids, cpuSeconds } from "../test/helpers/proc.js";
import { WeriftWhipHub } from "../test/helpers/werift-whip-hub.js";
import { benchConfigFromArgs, feedOptions } from "./bench-config.js";
import { durationSummary } from "./stats.js";

const { values } = parseArgs({
  options: {
    ...feedOptions(3),
    kills: { type: "string", default: "10" },
    settle: { type: "string", default: "11" },
    seconds: { type: "string", default: "10" },
  },
});
const feedCount = Number(values.feeds);

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

/** Arrival times (ms, monotonic) of each publication's RTP, by the SSRC the publisher keeps per feed. */
const arrivals = new Map<number, number[]>();

async function memory(pid: number): Promise<{ rss: number; pss: number }> {
  const text = await readFile(`/proc/${pid}/smaps_rollup`, "utf8").catch(() => "");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? 0) * 1024;
  return { rss: field("Rss"), pss: field("Pss") };
}

/** When each worker pid was first seen, to kill the one that has run longest. */
const firstSeen = new Map<number, number>();

/** Feed workers with a pipeline running (they use CPU) and idle spares (they do not). */
async function workers(agentPid: number): Promise<{ running: number[]; spares: number[] }> {
  const pids = await childPids(agentPid, "feed-worker");
  for (const pid of pids) if (!firstSeen.has(pid)) firstSeen.set(pid, performance.now());
  const before = await Promise.all(pids.map(cpuSeconds));
  await sleep(500);
  const after = await Promise.all(pids.map(cpuSeconds));
  const running = pids.filter((_, i) => (after[i] ?? 0) - (before[i] ?? 0) > 0.01);
  return { running, spares: pids.filter((pid) => !running.includes(pid)) };
}

/** Time from `at` to the first packet after the longest silence that began after `at`, over all feeds. */
function recovery(at: number): number | undefined {
  let best: { gap: number; resumedAt: number } | undefined;
  for (const times of arrivals.values()) {
    let previous = times.findLast((t) => t <= at) ?? at;
    for (const t of times) {
      if (t <= at) continue;
      const gap = t - previous;
      if (!best || gap > best.gap) best = { gap, resumedAt: t };
      previous = t;
    }
  }
  return best && best.gap > 100 ? best.resumedAt - at : undefined;
}

async function main(): Promise<void> {
  let firstRtpAt: number | undefined;
  const hub = new WeriftWhipHub({
    onRtp: (packet) => {
      const now = performance.now();
      firstRtpAt ??= now;
      const times = arrivals.get(packet.header.ssrc) ?? [];
      times.push(now);
      arrivals.set(packet.header.ssrc, times);
    },
  });
  await hub.start();
  const { config, dir } = benchConfigFromArgs(values, hub.endpoint);
  const agent: ChildProcess = spawnAgent(config, dir, { from: "dist" });
  const agentPid = agent.pid ?? 0;
  try {
    await waitForControlSocket(config.control.socketPath);
    // Let a spare worker (if the agent keeps one) finish loading, as it would have on a box.
    await sleep(2000);
    const pressedAt = performance.now();
    await sendControlCommand(config.control.socketPath, "start");
    while (firstRtpAt === undefined) {
      if (performance.now() - pressedAt > 30_000) throw new Error("no RTP at the hub within 30 s");
      await sleep(5);
    }
    console.log(
      `spoke recovery benchmark: ${feedCount} × ${values.width}x${values.height} x264, ${values.kills} kills per signal`,
    );
    console.log(`  press → first RTP at the hub   ${(firstRtpAt - pressedAt).toFixed(0)} ms`);
    await sleep(Number(values.settle) * 1000);

    const steady = await workers(agentPid);
    const seconds = Number(values.seconds);
    const measured = [agentPid, ...steady.running, ...steady.spares];
    const cpuBefore = await Promise.all(measured.map(cpuSeconds));
    await sleep(seconds * 1000);
    const cpuAfter = await Promise.all(measured.map(cpuSeconds));
    const cpu = (i: number) =>
      `${((((cpuAfter[i] ?? 0) - (cpuBefore[i] ?? 0)) / seconds) * 100).toFixed(1)} %`;
    const mem = await Promise.all(measured.map(memory));
    const line = (name: string, i: number) =>
      console.log(
        `  ${name.padEnd(30)} CPU ${cpu(i).padStart(7)}  RSS ${mb(mem[i]?.rss ?? 0).padStart(6)}  PSS ${mb(mem[i]?.pss ?? 0).padStart(6)}`,
      );
    line("agent (Node, werift)", 0);
    for (const [i] of steady.running.entries()) line(`feed worker ${i + 1}`, i + 1);
    for (const [i] of steady.spares.entries()) line(`spare worker ${i + 1}`, steady.running.length + 1 + i);
    const total = mem.reduce((sum, m) => ({ rss: sum.rss + m.rss, pss: sum.pss + m.pss }), {
      rss: 0,
      pss: 0,
    });
    console.log(
      `  all Spoke processes (${measured.length})         RSS ${mb(total.rss)}  PSS ${mb(total.pss)}`,
    );

    for (const signal of ["SIGKILL", "SIGSEGV"] as const) {
      const times: number[] = [];
      for (let kill = 0; kill < Number(values.kills); kill += 1) {
        const { running } = await workers(agentPid);
        // The worker that has run longest: a feed killed again within 30 s of its restart would be in
        // a run of failures, and rightly wait for its backoff; a crash after a stable run does not.
        const victim = [...running].sort((a, b) => (firstSeen.get(a) ?? 0) - (firstSeen.get(b) ?? 0))[0];
        if (victim === undefined) throw new Error("no running feed worker to kill");
        const at = performance.now();
        process.kill(victim, signal);
        // A restart after a crash is quick, and the backoff starts afresh only after a stable run.
        await sleep(Number(values.settle) * 1000);
        const took = recovery(at);
        if (took === undefined) throw new Error(`feed did not come back after ${signal} of ${victim}`);
        times.push(took);
      }
      console.log(`  ${signal} → first RTP again     ${durationSummary(times)}`);
    }
  } finally {
    agent.kill("SIGTERM");
    await exited(agent);
    await hub.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
