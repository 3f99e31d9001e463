/**
 * Congestion control on a real bottleneck: the compiled agent in one network namespace (`spk0`)
 * publishes an ultrasound test feed (`pattern=snow`, which fills any link, 1280×720@30) to headless
 * Chromium in another (`spk1`), answering WHIP itself, so the transport-wide feedback, jitter buffer and
 * decoder are libwebrtc's. The two are joined by a veth pair (`spk0`/`spk1`: werift skips interfaces
 * named `veth*`) whose agent side is limited by `tbf`.
 *
 *   npm run bench:bottleneck -- [--seconds 60] [--rate 1] [--step] [--short] [--mode drive|report]
 *
 * `--step` starts at 4 Mbit/s, drops to 1 Mbit/s at a third of the run and returns to 4 at two thirds.
 * `--short` (for CI, about a minute): 1 Mbit/s for 25 s, then 4 Mbit/s for 10 s and 1 Mbit/s for 10 s.
 * Prints, per stretch of constant rate (from its convergence on): decoded fps, link use (received
 * bitrate over the link rate), freeze share (gaps over 500 ms between decoded frames, and Chromium's
 * own freeze duration), the jitter-buffer delay every 5 s, the agent's estimate every 5 s, how long each
 * change of rate took to converge, and the CPU of the agent, the worker and Chromium. Needs root
 * (network namespaces); the namespaces are removed at the end, on error too.
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
import { childPids, cpuSeconds, pidsMatching } from "../test/helpers/proc.js";
import { type AgentState, type RateChange, report } from "./bottleneck-report.js";
import type { ReceiverSample } from "./chromium-whip-receiver.js";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "60" },
    rate: { type: "string", default: "1" },
    step: { type: "boolean", default: false },
    short: { type: "boolean", default: false },
    mode: { type: "string", default: "drive" },
    hub: { type: "string" },
  },
});

const AGENT_NS = "spk0";
const HUB_NS = "spk1";
const AGENT_ADDRESS = "10.77.0.1";
const HUB_ADDRESS = "10.77.0.2";
/** Chromium's profile folders, to find its processes for their CPU. */
const CHROMIUM_PROFILE_PREFIX = "spoke-bench-chromium-";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The receiver's side: Chromium answering WHIP in its namespace, its samples as JSON lines on stdout. */
async function runHub(host: string): Promise<void> {
  const { ChromiumWhipReceiver } = await import("./chromium-whip-receiver.js");
  const receiver = new ChromiumWhipReceiver(host);
  await receiver.start();
  console.log(JSON.stringify({ endpoint: receiver.endpoint }));
  const timer = setInterval(() => {
    receiver
      .drain()
      .then((samples) => {
        for (const sample of samples) console.log(JSON.stringify(sample));
      })
      .catch(() => undefined);
  }, 250);
  process.once("SIGTERM", () => {
    clearInterval(timer);
    receiver.stop().finally(() => process.exit(0));
  });
}

function sh(...args: string[]): void {
  execFileSync(args[0] ?? "", args.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
}

function setUpNetwork(rateMbit: number): void {
  const existing = execFileSync("ip", ["netns", "list"], { encoding: "utf8" });
  if (new RegExp(`^(${AGENT_NS}|${HUB_NS})\\b`, "m").test(existing)) {
    // Another run is using them (or one was killed before its clean-up): never pull them from under it.
    throw new Error(
      `network namespace ${AGENT_NS} or ${HUB_NS} exists: another bench run? If not, ip netns del ${AGENT_NS}; ip netns del ${HUB_NS}`,
    );
  }
  try {
    sh("ip", "netns", "add", AGENT_NS);
    sh("ip", "netns", "add", HUB_NS);
    sh(
      "ip",
      "link",
      "add",
      "spk0",
      "netns",
      AGENT_NS,
      "type",
      "veth",
      "peer",
      "name",
      "spk1",
      "netns",
      HUB_NS,
    );
    for (const [ns, dev, address] of [
      [AGENT_NS, "spk0", AGENT_ADDRESS],
      [HUB_NS, "spk1", HUB_ADDRESS],
    ] as const) {
      sh("ip", "-n", ns, "addr", "add", `${address}/30`, "dev", dev);
      sh("ip", "-n", ns, "link", "set", dev, "up");
      sh("ip", "-n", ns, "link", "set", "lo", "up");
    }
    shape("add", rateMbit);
  } catch (error) {
    cleanUpNetwork();
    throw error;
  }
}

function shape(verb: "add" | "change", rateMbit: number): void {
  // tbf as a DSL modem would: a short burst, a queue of up to 400 ms.
  sh(
    ...["ip", "netns", "exec", AGENT_NS, "tc", "qdisc", verb, "dev", "spk0", "root", "tbf"],
    ...["rate", `${rateMbit}mbit`, "burst", "32kbit", "latency", "400ms"],
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

function scheduleFor(seconds: number): { schedule: RateChange[]; seconds: number } {
  if (values.short) {
    return {
      schedule: [
        { at: 0, mbit: 1 },
        { at: 25, mbit: 4 },
        { at: 35, mbit: 1 },
      ],
      seconds: 45,
    };
  }
  if (values.step) {
    return {
      schedule: [
        { at: 0, mbit: 4 },
        { at: seconds / 3, mbit: 1 },
        { at: (2 * seconds) / 3, mbit: 4 },
      ],
      seconds,
    };
  }
  return { schedule: [{ at: 0, mbit: Number(values.rate) }], seconds };
}

/** CPU seconds so far of the agent, its feed workers and Chromium's processes. */
async function cpuNow(agentPid: number): Promise<{ agent: number; workers: number; chromium: number }> {
  const sum = async (pids: number[]) =>
    (await Promise.all(pids.map((pid) => cpuSeconds(pid).catch(() => 0)))).reduce((a, b) => a + b, 0);
  return {
    agent: await cpuSeconds(agentPid),
    workers: await sum(await childPids(agentPid, "feed-worker")),
    chromium: await sum(await pidsMatching(CHROMIUM_PROFILE_PREFIX)),
  };
}

async function runBench(): Promise<void> {
  const { schedule, seconds } = scheduleFor(Number(values.seconds));
  const mode = values.mode === "report" ? "report" : "drive";
  setUpNetwork(schedule[0]?.mbit ?? 1);
  let hub: ChildProcess | undefined;
  let agent: ChildProcess | undefined;
  const samples: ReceiverSample[] = [];
  const states: AgentState[] = [];
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
      const timer = setTimeout(() => reject(new Error("the receiver did not start")), 30_000);
      hub?.once("exit", () => reject(new Error("the receiver exited")));
      lines(hub as ChildProcess, (value) => {
        if (typeof value.endpoint === "string") {
          clearTimeout(timer);
          resolve(value.endpoint);
        } else if (typeof value.t === "number") samples.push(value as unknown as ReceiverSample);
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
        network: { congestionControl: mode },
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
      if (value.msg === "network steering") {
        states.push({
          t: Number(value.time),
          estimateKbps: Number(value.estimateKbps),
          targetKbps: Number(value.targetKbps),
          step: Number(value.step),
        });
      } else if (
        process.env.SPOKE_BENCH_TRACE &&
        (value.msg === "congestion state" || Number(value.level) >= 30)
      ) {
        console.log(JSON.stringify(value));
      }
    });
    await waitForControlSocket(config.control.socketPath);
    await sleep(2000);
    await sendControlCommand(config.control.socketPath, "start");
    const startedAt = Date.now();
    const until = (s: number) => sleep(Math.max(0, startedAt + s * 1000 - Date.now()));

    const agentPid = agent.pid ?? 0;
    const warm = Math.min(5, seconds / 4);
    await until(warm);
    const cpuAt = performance.now();
    const cpuStart = await cpuNow(agentPid);
    for (const change of schedule.slice(1)) {
      await until(change.at);
      shape("change", change.mbit);
    }
    await until(seconds);
    if (process.env.SPOKE_BENCH_TRACE) {
      console.log(
        execFileSync("ip", ["netns", "exec", AGENT_NS, "tc", "-s", "qdisc", "show", "dev", "spk0"], {
          encoding: "utf8",
        }),
      );
    }
    const elapsed = (performance.now() - cpuAt) / 1000;
    const cpuEnd = await cpuNow(agentPid);
    const percent = (key: keyof typeof cpuEnd) =>
      `${(((cpuEnd[key] - cpuStart[key]) / elapsed) * 100).toFixed(1)} %`;

    report(
      samples.map((s) => ({ ...s, t: s.t - startedAt })),
      states.map((e) => ({ ...e, t: e.t - startedAt })),
      schedule,
      seconds,
      mode,
    );
    console.log(
      `  CPU (% of one core, from ${warm.toFixed(0)} s): agent ${percent("agent")}, worker ${percent("workers")}, Chromium (receiver, all processes) ${percent("chromium")}`,
    );
  } finally {
    await stopChild(agent);
    await stopChild(hub);
    cleanUpNetwork();
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
