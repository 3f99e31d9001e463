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

interface HubCount {
  packets: number;
  bytes: number;
  /** Video packets and the hub peer's state per WHIP session, oldest first. */
  sessions: { packets: number; state: string }[];
}

async function hubCount(hub: ChildProcess): Promise<HubCount> {
  const reply = nextMessage<HubCount>(hub, "count");
  hub.send({ type: "count" });
  return reply;
}

interface Measured extends RunnerResult {
  round: number;
  hubPackets: number;
  /** What the hub received in each of this runner's sessions, and its peer's state at the end. */
  hubSessions: { packets: number; state: string }[];
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
  const before = await hubCount(hub);
  const exited = new Promise((resolve) => runner.once("exit", resolve));
  const resultReceived = nextMessage<RunnerResult>(runner, "result");
  await nextMessage(runner, "measuring");
  // The hub peers' states while media flows (after the runner's DELETEs they are all closed).
  const during = await hubCount(hub);
  const result = await resultReceived;
  await exited;
  // The hub's count over the runner's whole life (its DELETEs are done by then), against all it forwarded.
  const after = await hubCount(hub);
  return {
    ...result,
    round,
    hubPackets: after.packets - before.packets,
    hubSessions: after.sessions.slice(before.sessions.length).map((session, i) => ({
      packets: session.packets,
      state: during.sessions[before.sessions.length + i]?.state ?? "unknown",
    })),
    load: loadavg()[0] ?? 0,
  };
}

const pct = (value: number) => `${value.toFixed(2)} %`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

function mbpsPerStream(m: Measured): number {
  return (m.bytes * 8) / m.seconds / 1e6 / m.streams;
}

interface Layer {
  processPct: number;
  /** The WebRTC layer: the process less what receiving alone costs per packet (stack "none"). */
  layerPct: number;
  usPerPacket: number;
  /** One stream's layer cost scaled to 2 Mbit/s of this stream's packets. */
  per2MbpsPct: number;
}

function layerOf(m: Measured, baseline: Measured | undefined): Layer {
  const receiveUs = baseline ? (baseline.cpuSeconds * 1e6) / Math.max(1, baseline.packets) : 0;
  const layerSeconds = m.cpuSeconds - (receiveUs * m.packets) / 1e6;
  const usPerPacket = (layerSeconds * 1e6) / Math.max(1, m.packets);
  const packetBytes = m.bytes / Math.max(1, m.packets);
  const packetsPer2Mbps = 2e6 / 8 / packetBytes;
  return {
    processPct: (m.cpuSeconds / m.seconds) * 100,
    layerPct: (layerSeconds / m.seconds) * 100,
    usPerPacket,
    per2MbpsPct: (usPerPacket * packetsPer2Mbps) / 1e4,
  };
}

function printRow(m: Measured, baseline: Measured | undefined): void {
  const layer = layerOf(m, baseline);
  const hubShare = (m.hubPackets / Math.max(1, m.forwardedTotal)) * 100;
  console.log(
    `  ${m.stack.padEnd(17)} ${String(m.streams).padStart(2)} × ${mbpsPerStream(m).toFixed(2)} Mbit/s` +
      `  process ${pct(layer.processPct).padStart(8)}  layer ${pct(layer.layerPct).padStart(8)}` +
      `  per 2 Mbit/s stream ${pct(layer.per2MbpsPct).padStart(7)}  ${layer.usPerPacket.toFixed(1).padStart(6)} µs/packet` +
      `  delay p50 ${(m.delayUs.p50 / 1000).toFixed(3)} p99 ${(m.delayUs.p99 / 1000).toFixed(3)} max ${(m.delayUs.max / 1000).toFixed(1)} ms` +
      (m.pacingUs
        ? `  pacing p50 ${(m.pacingUs.p50 / 1000).toFixed(1)} p99 ${(m.pacingUs.p99 / 1000).toFixed(1)} ms`
        : "") +
      `  hub got ${hubShare.toFixed(0)} % (${m.hubSessions.map((session) => (session.packets > 0 ? session.packets : `0, hub peer ${session.state}`)).join("/") || "-"})  load ${m.load.toFixed(2)}`,
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

/** Medians over the rounds, each measurement net of its own round's baseline. */
function summarise(all: Measured[]): void {
  console.log("\nmedian over rounds (layer = process less receiving alone, per packet, same round):");
  for (const streams of streamCounts) {
    for (const stack of stacks.filter((s) => s !== "none")) {
      const runs = all.filter((m) => m.stack === stack && m.streams === streams);
      const layers = runs.map((m) =>
        layerOf(
          m,
          all.find((b) => b.stack === "none" && b.streams === streams && b.round === m.round),
        ),
      );
      const p99s = runs.map((m) => m.delayUs.p99 / 1000);
      console.log(
        `  ${stack.padEnd(17)} ${streams} stream(s): layer ${pct(median(layers.map((l) => l.layerPct)))}, ` +
          `per 2 Mbit/s stream ${pct(median(layers.map((l) => l.per2MbpsPct)))}, ` +
          `${median(layers.map((l) => l.usPerPacket)).toFixed(1)} µs/packet, ` +
          `delay p99 ${median(p99s).toFixed(3)} ms (rounds ${Math.min(...p99s).toFixed(3)}–${Math.max(...p99s).toFixed(3)})`,
      );
    }
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
