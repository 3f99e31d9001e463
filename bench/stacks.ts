/**
 * The two WebRTC stacks side by side in one run: werift and node-datachannel, each behind the
 * publisher port, forward the same live H.264 RTP (gst-launch test feeds, 2 Mbit/s each) to a werift
 * WHIP hub in its own process. Each measurement is a fresh publisher process (`stacks-runner.ts`) that
 * reports its own CPU time and each packet's forwarding delay; the stacks take turns, round after round,
 * and stack "none" (receive only) is the baseline subtracted to get the WebRTC layer's own cost.
 *
 *   npm run bench:stacks -- [--streams 1,3] [--rounds 3] [--seconds 10] [--warmup 2] [--bitrate 2000]
 *
 * CPU is in % of one core; "per 2 Mbit/s" scales each stream's share to a 2 Mbit/s stream.
 */
import { type ChildProcess, fork, spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import type { RunnerResult, Stack } from "./stacks-runner.js";

const { values } = parseArgs({
  options: {
    streams: { type: "string", default: "1,3" },
    rounds: { type: "string", default: "3" },
    seconds: { type: "string", default: "10" },
    warmup: { type: "string", default: "2" },
    bitrate: { type: "string", default: "2000" },
    width: { type: "string", default: "1280" },
    height: { type: "string", default: "720" },
    pattern: { type: "string", default: "smpte" },
    stacks: { type: "string", default: "werift,node-datachannel,none" },
  },
});
const streamCounts = values.streams.split(",").map(Number);
const stacks = values.stacks.split(",") as Stack[];
const rounds = Number(values.rounds);
const TSX = ["--import", "tsx"];

async function freeUdpPort(): Promise<number> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/** A test feed as the agent's worker makes it (x264 ultrafast, zero latency, constrained baseline). */
function startSource(port: number): ChildProcess {
  const launch = [
    `videotestsrc is-live=true pattern=${values.pattern}`,
    `video/x-raw,format=I420,width=${values.width},height=${values.height},framerate=30/1`,
    `x264enc tune=zerolatency speed-preset=ultrafast bitrate=${values.bitrate} key-int-max=60 bframes=0`,
    "video/x-h264,profile=constrained-baseline",
    "rtph264pay pt=96 mtu=1200 config-interval=-1 aggregate-mode=none",
    `udpsink host=127.0.0.1 port=${port} sync=false async=false`,
  ].join(" ! ");
  return spawn("gst-launch-1.0", ["-q", ...launch.split(" ")], { stdio: "ignore" });
}

function nextMessage<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { type: string }) => {
      if (message.type !== type) return;
      child.off("message", onMessage);
      child.off("exit", onExit);
      resolve(message as T);
    };
    const onExit = (code: number | null) =>
      reject(new Error(`${child.spawnargs.join(" ")} exited (${code})`));
    child.on("message", onMessage);
    child.once("exit", onExit);
  });
}

async function hubCount(hub: ChildProcess): Promise<{ packets: number; bytes: number }> {
  const reply = nextMessage<{ packets: number; bytes: number }>(hub, "count");
  hub.send({ type: "count" });
  return reply;
}

interface Measured extends RunnerResult {
  round: number;
  hubPackets: number;
  load: number;
}

async function measure(
  hub: ChildProcess,
  endpoint: string,
  stack: Stack,
  ports: number[],
  round: number,
): Promise<Measured> {
  const runner = fork(
    "bench/stacks-runner.ts",
    [stack, endpoint, ports.join(","), values.warmup, values.seconds],
    { execArgv: TSX, stdio: ["ignore", "inherit", "inherit", "ipc"] },
  );
  const exited = new Promise((resolve) => runner.once("exit", resolve));
  await nextMessage(runner, "measuring");
  const before = await hubCount(hub);
  const result = await nextMessage<RunnerResult>(runner, "result");
  const after = await hubCount(hub);
  await exited;
  return { ...result, round, hubPackets: after.packets - before.packets, load: loadavg()[0] ?? 0 };
}

const pct = (value: number) => `${value.toFixed(2)} %`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

function cpuPercent(m: Measured): number {
  return (m.cpuSeconds / m.seconds) * 100;
}

function mbpsPerStream(m: Measured): number {
  return (m.bytes * 8) / m.seconds / 1e6 / m.streams;
}

function printRow(m: Measured, baseline: Measured | undefined): void {
  const cpu = cpuPercent(m);
  const net = baseline ? cpu - cpuPercent(baseline) : cpu;
  const perStream = net / m.streams;
  const per2 = perStream / (mbpsPerStream(m) / 2);
  const usPerPacket = ((net / 100) * m.seconds * 1e6) / Math.max(1, m.packets);
  console.log(
    `  ${m.stack.padEnd(17)} ${String(m.streams).padStart(2)} × ${mbpsPerStream(m).toFixed(2)} Mbit/s` +
      `  process ${pct(cpu).padStart(8)}  layer ${pct(net).padStart(8)}  per 2 Mbit/s stream ${pct(per2).padStart(7)}` +
      `  ${usPerPacket.toFixed(1).padStart(6)} µs/packet` +
      `  delay p50 ${(m.delayUs.p50 / 1000).toFixed(3)} p99 ${(m.delayUs.p99 / 1000).toFixed(3)} max ${(m.delayUs.max / 1000).toFixed(1)} ms` +
      `  hub got ${((m.hubPackets / Math.max(1, m.packets)) * 100).toFixed(0)} %  load ${m.load.toFixed(2)}`,
  );
}

async function main(): Promise<void> {
  const hub = fork("bench/stacks-hub.ts", [], {
    execArgv: TSX,
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const { endpoint } = await nextMessage<{ endpoint: string }>(hub, "endpoint");
  const maxStreams = Math.max(...streamCounts);
  const ports = await Promise.all(Array.from({ length: maxStreams }, freeUdpPort));
  const sources = ports.map(startSource);
  const all: Measured[] = [];
  try {
    console.log(
      `WebRTC stacks, ${values.width}x${values.height} ${values.pattern} at ${values.bitrate} kbit/s per stream, ` +
        `${values.seconds} s per measurement, ${rounds} rounds (${new Date().toISOString()})`,
    );
    for (let round = 1; round <= rounds; round += 1) {
      for (const streams of streamCounts) {
        console.log(`round ${round}, ${streams} stream(s):`);
        const measured = new Map<Stack, Measured>();
        for (const stack of stacks)
          measured.set(stack, await measure(hub, endpoint, stack, ports.slice(0, streams), round));
        for (const m of measured.values()) {
          all.push(m);
          printRow(m, m.stack === "none" ? undefined : measured.get("none"));
        }
      }
    }
    summarise(all);
  } finally {
    for (const source of sources) source.kill("SIGKILL");
    hub.disconnect();
  }
}

/** Medians over the rounds, each round's stack net of that round's baseline. */
function summarise(all: Measured[]): void {
  console.log("\nmedian over rounds (layer = process − none, same round):");
  for (const streams of streamCounts) {
    for (const stack of stacks.filter((s) => s !== "none")) {
      const runs = all.filter((m) => m.stack === stack && m.streams === streams);
      const nets = runs.map((m) => {
        const base = all.find((b) => b.stack === "none" && b.streams === streams && b.round === m.round);
        return cpuPercent(m) - (base ? cpuPercent(base) : 0);
      });
      const per2 = runs.map((m, i) => (nets[i] ?? 0) / m.streams / (mbpsPerStream(m) / 2));
      const us = runs.map((m, i) => (((nets[i] ?? 0) / 100) * m.seconds * 1e6) / Math.max(1, m.packets));
      console.log(
        `  ${stack.padEnd(17)} ${streams} stream(s): process ${pct(median(runs.map(cpuPercent)))}, layer ${pct(median(nets))}, ` +
          `per 2 Mbit/s stream ${pct(median(per2))}, ${median(us).toFixed(1)} µs/packet, ` +
          `delay p99 ${(median(runs.map((m) => m.delayUs.p99)) / 1000).toFixed(3)} ms (worst round ${(Math.max(...runs.map((m) => m.delayUs.p99)) / 1000).toFixed(3)} ms)`,
      );
    }
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
