/**
 * Congestion control on a real bottleneck: the compiled agent in one network namespace publishes an
 * ultrasound test feed (`pattern=snow`, which fills any link, 1280×720@30) to a werift WHIP receiver with
 * a libav decoder in another; the two are joined by a veth pair whose agent side is limited by `tbf`.
 *
 *   npm run bench:bottleneck -- [--seconds 60] [--rate 1] [--step]
 *
 * `--step` starts at 4 Mbit/s, drops to 1 Mbit/s at a third of the run and returns to 4 at two thirds,
 * and prints how long each change took to converge. Prints decoded fps, link use (received bitrate over
 * the link rate), freeze share (gaps over 500 ms between decoded frames), the agent's estimate every
 * 5 s, and the agent's and the worker's CPU. Needs root (network namespaces); the namespaces are removed
 * at the end, on error too. The veth ends are not named `veth*`, which werift skips when gathering.
 *
 * Run as the receiver inside its namespace by the bench itself: `--hub <address>`.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { sendControlCommand } from "../agent/adapters/control/control-client.js";
import { parseConfig } from "../agent/config/validate.js";
import { waitForControlSocket } from "../test/helpers/agent-process.js";
import { childPids, cpuSeconds } from "../test/helpers/proc.js";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "60" },
    rate: { type: "string", default: "1" },
    step: { type: "boolean", default: false },
    hub: { type: "string" },
  },
});

const AGENT_NS = "spoke-bench-agent";
const HUB_NS = "spoke-bench-hub";
const AGENT_ADDRESS = "10.77.0.1";
const HUB_ADDRESS = "10.77.0.2";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The receiver's side: a WHIP hub and decoder in its namespace, reporting as JSON lines on stdout. */
async function runHub(host: string): Promise<void> {
  const { GstDecoder } = await import("../test/helpers/gst-decoder.js");
  const { WeriftWhipHub } = await import("../test/helpers/werift-whip-hub.js");
  const decoder = new GstDecoder();
  await decoder.start();
  let bytes = 0;
  const hub = new WeriftWhipHub({
    host,
    onRtp: (packet) => {
      bytes += packet.serializeSize;
      decoder.push(packet.serialize());
    },
  });
  await hub.start();
  console.log(JSON.stringify({ endpoint: hub.endpoint }));
  let frames = 0;
  // Frame arrival times at 10 ms resolution is enough for 500 ms freezes.
  // Wall-clock ms: the bench and the agent read the same clock.
  setInterval(() => {
    const now = Date.now();
    if (decoder.frames !== frames) {
      console.log(JSON.stringify({ t: now, frames: decoder.frames, bytes }));
      frames = decoder.frames;
    } else console.log(JSON.stringify({ t: now, bytes }));
  }, 10);
}

function sh(...args: string[]): void {
  execFileSync(args[0] ?? "", args.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
}

function setUpNetwork(rateMbit: number): void {
  cleanUpNetwork();
  sh("ip", "netns", "add", AGENT_NS);
  sh("ip", "netns", "add", HUB_NS);
  sh("ip", "link", "add", "spk0", "netns", AGENT_NS, "type", "veth", "peer", "name", "spk1", "netns", HUB_NS);
  for (const [ns, dev, address] of [
    [AGENT_NS, "spk0", AGENT_ADDRESS],
    [HUB_NS, "spk1", HUB_ADDRESS],
  ] as const) {
    sh("ip", "-n", ns, "addr", "add", `${address}/30`, "dev", dev);
    sh("ip", "-n", ns, "link", "set", dev, "up");
    sh("ip", "-n", ns, "link", "set", "lo", "up");
  }
  shape("add", rateMbit);
}

function shape(verb: "add" | "change", rateMbit: number): void {
  sh(
    "ip",
    "netns",
    "exec",
    AGENT_NS,
    "tc",
    "qdisc",
    verb,
    "dev",
    "spk0",
    "root",
    "tbf",
    "rate",
    `${rateMbit}mbit`,
    "burst",
    "32kbit",
    "latency",
    "400ms",
  );
}

function cleanUpNetwork(): void {
  for (const ns of [AGENT_NS, HUB_NS]) {
    try {
      sh("ip", "netns", "del", ns);
    } catch {
      // not there
    }
  }
}

interface Sample {
  t: number;
  frames?: number;
  bytes: number;
}

interface Estimate {
  t: number;
  estimateKbps: number;
  targetKbps: number;
  step: number;
}

function lines(child: ChildProcess, each: (value: Record<string, unknown>) => void): void {
  let pending = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    pending += chunk;
    const parts = pending.split("\n");
    pending = parts.pop() ?? "";
    for (const part of parts) {
      try {
        each(JSON.parse(part) as Record<string, unknown>);
      } catch {
        // not a JSON line
      }
    }
  });
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

async function runBench(): Promise<void> {
  const seconds = Number(values.seconds);
  const stepRun = values.step;
  const schedule = stepRun
    ? [
        { at: 0, mbit: 4 },
        { at: seconds / 3, mbit: 1 },
        { at: (2 * seconds) / 3, mbit: 4 },
      ]
    : [{ at: 0, mbit: Number(values.rate) }];
  setUpNetwork(schedule[0]?.mbit ?? 1);
  let hub: ChildProcess | undefined;
  let agent: ChildProcess | undefined;
  const samples: Sample[] = [];
  const estimates: Estimate[] = [];
  try {
    hub = spawn(
      "ip",
      [
        "netns",
        "exec",
        HUB_NS,
        process.execPath,
        "--import",
        "tsx",
        "bench/bottleneck.ts",
        "--hub",
        HUB_ADDRESS,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const endpoint = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the receiver did not start")), 20_000);
      lines(hub as ChildProcess, (value) => {
        if (typeof value.endpoint === "string") {
          clearTimeout(timer);
          resolve(value.endpoint);
        } else if (typeof value.t === "number") {
          const sample: Sample = { t: value.t, bytes: Number(value.bytes) };
          if (typeof value.frames === "number") sample.frames = value.frames;
          samples.push(sample);
        }
      });
    });
    const dir = mkdtempSync(join(tmpdir(), "spoke-bottleneck-"));
    const config = parseConfig(
      {
        deviceId: "bench",
        feeds: [
          {
            id: "ultrasound",
            role: "ultrasound",
            source: { type: "test", pattern: "snow" },
            width: 1280,
            height: 720,
            framerate: 30,
            whip: { url: endpoint },
          },
        ],
        mqtt: { url: "mqtt://127.0.0.1:9" },
        control: { socketPath: join(dir, "control.sock") },
        // What is measured here is the controller driving the encoder.
        network: { congestionControl: "drive" },
        logLevel: "debug",
      },
      "bench config",
    );
    const file = join(dir, "config.json");
    writeFileSync(file, JSON.stringify(config));
    agent = spawn(
      "ip",
      ["netns", "exec", AGENT_NS, process.execPath, "dist/agent/cli.js", "run", "--config", file],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    lines(agent, (value) => {
      if (value.msg !== "network steering") return;
      estimates.push({
        t: Number(value.time),
        estimateKbps: Number(value.estimateKbps),
        targetKbps: Number(value.targetKbps),
        step: Number(value.step),
      });
    });
    await waitForControlSocket(config.control.socketPath);
    await sleep(2000);
    await sendControlCommand(config.control.socketPath, "start");
    const startedAt = Date.now();
    const until = (s: number) => sleep(Math.max(0, startedAt + s * 1000 - Date.now()));

    const agentPid = agent.pid ?? 0;
    const warm = Math.min(5, seconds / 4);
    await until(warm);
    const workersAt = await childPids(agentPid, "feed-worker");
    const cpuStart = {
      at: performance.now(),
      agent: await cpuSeconds(agentPid),
      workers: new Map(
        await Promise.all(workersAt.map(async (pid) => [pid, await cpuSeconds(pid)] as const)),
      ),
    };
    for (const change of schedule.slice(1)) {
      await until(change.at);
      shape("change", change.mbit);
    }
    await until(seconds);
    const elapsed = (performance.now() - cpuStart.at) / 1000;
    const agentCpu = ((await cpuSeconds(agentPid)) - cpuStart.agent) / elapsed;
    const workerCpu: number[] = [];
    for (const [pid, before] of cpuStart.workers) {
      const after = await cpuSeconds(pid).catch(() => before);
      if (after - before > 0.01 * elapsed) workerCpu.push((after - before) / elapsed);
    }

    const local = samples.map((s) => ({ ...s, t: s.t - startedAt }));
    report(
      local,
      estimates.map((e) => ({ ...e, t: e.t - startedAt })),
      schedule,
      seconds,
    );
    console.log(
      `  CPU (% of one core, from ${warm.toFixed(0)} s): agent ${(agentCpu * 100).toFixed(1)} %, worker ${workerCpu.map((c) => `${(c * 100).toFixed(1)} %`).join(", ") || "n/a"}`,
    );
  } finally {
    await stopChild(agent);
    await stopChild(hub);
    cleanUpNetwork();
  }
}

function report(
  samples: Sample[],
  estimates: Estimate[],
  schedule: { at: number; mbit: number }[],
  seconds: number,
): void {
  const frameTimes: number[] = [];
  let frames = 0;
  for (const sample of samples) {
    if (sample.frames !== undefined && sample.frames > frames) {
      for (let i = frames; i < sample.frames; i += 1) frameTimes.push(sample.t);
      frames = sample.frames;
    }
  }
  const bytesAt = (t: number) => samples.findLast((s) => s.t <= t)?.bytes ?? 0;
  const rateAt = (t: number) => schedule.findLast((c) => c.at * 1000 <= t)?.mbit ?? 1;
  const firstFrame = frameTimes[0] ?? seconds * 1000;
  const from = Math.min(seconds * 1000, firstFrame + 5000);
  const to = seconds * 1000;
  const span = (to - from) / 1000;
  const framesIn = frameTimes.filter((t) => t >= from && t <= to);
  let frozen = 0;
  let previous = from;
  for (const t of [...framesIn, to]) {
    if (t - previous > 500) frozen += t - previous;
    previous = t;
  }
  const received = ((bytesAt(to) - bytesAt(from)) * 8) / 1000 / span;
  let capacity = 0;
  for (let t = from; t < to; t += 100) capacity += rateAt(t) * 1000 * 100;
  const linkKbps = capacity / (to - from);
  console.log(
    `spoke bottleneck benchmark: ultrasound 1280x720@30 snow, ${schedule.map((c) => `${c.mbit}`).join(" → ")} Mbit/s tbf, ${seconds} s`,
  );
  console.log(`  first decoded frame ${(firstFrame / 1000).toFixed(2)} s after the start`);
  console.log(`  over ${(from / 1000).toFixed(1)}–${seconds} s:`);
  console.log(`    decoded ${(framesIn.length / span).toFixed(1)} fps`);
  console.log(
    `    received ${received.toFixed(0)} kbit/s, link use ${((received / linkKbps) * 100).toFixed(0)} % of ${linkKbps.toFixed(0)} kbit/s`,
  );
  console.log(`    frozen ${((frozen / (to - from)) * 100).toFixed(1)} % of the time (gaps > 500 ms)`);
  const every5 = [];
  for (let t = 5000; t <= seconds * 1000; t += 5000) {
    const e = estimates.findLast((x) => x.t <= t);
    if (e) every5.push(`${t / 1000}s ${e.estimateKbps}/${e.targetKbps}k step ${e.step}`);
  }
  console.log(`  estimate/target every 5 s: ${every5.join(", ")}`);
  for (const change of schedule.slice(1)) {
    const at = change.at * 1000;
    const target = change.mbit * 1000;
    const window = (t: number) => ((bytesAt(t) - bytesAt(t - 1000)) * 8) / 1000;
    let converged: number | undefined;
    for (let t = at + 1000; t <= seconds * 1000; t += 100) {
      const fps = frameTimes.filter((f) => f > t - 1000 && f <= t).length;
      const estimate = estimates.findLast((x) => x.t <= t)?.estimateKbps ?? 0;
      // Down: the estimate is under the new rate and the picture decodes; up: the link is used again.
      const ok = target < rateAt(at - 1) ? estimate <= target && fps >= 25 : window(t) >= 0.8 * target;
      if (ok) {
        converged = t - at;
        break;
      }
    }
    console.log(
      `  ${rateAt(at - 1)} → ${change.mbit} Mbit/s converged ${converged === undefined ? "not within the run" : `in ${(converged / 1000).toFixed(1)} s`}`,
    );
  }
}

if (values.hub) {
  runHub(values.hub).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
} else {
  runBench().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
