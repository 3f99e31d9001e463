/**
 * What forwarding costs the agent: runs the real agent as its own process with N test feeds published
 * to a werift WHIP receiver in this process, and prints the agent's CPU per forwarded stream beside
 * each GStreamer worker's own CPU (capture + x264 + RTP payloading).
 *
 *   npm run bench -- [--feeds 1] [--seconds 20] [--width 1280 --height 720] [--pattern smpte|ball|snow]
 *
 * CPU is in % of one core, measured from /proc over the steady part of the run (after warm-up).
 */
import type { ChildProcess } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { sendControlCommand } from "../agent/adapters/control/control-client.js";
import { exited, spawnAgent, waitForControlSocket } from "../test/helpers/agent-process.js";
import { childPids, cpuSeconds } from "../test/helpers/proc.js";
import { WeriftWhipHub } from "../test/helpers/werift-whip-hub.js";
import { benchConfigFromArgs, feedOptions } from "./bench-config.js";

const { values } = parseArgs({
  options: {
    ...feedOptions(1),
    seconds: { type: "string", default: "20" },
    warmup: { type: "string", default: "3" },
    pattern: { type: "string", default: "smpte" },
  },
});
const feedCount = Number(values.feeds);
const seconds = Number(values.seconds);

const percent = (cpu: number) => `${((cpu / seconds) * 100).toFixed(1)} %`;

async function main(): Promise<void> {
  let received = 0;
  let receivedBytes = 0;
  const hub = new WeriftWhipHub({
    onRtp: (packet) => {
      received += 1;
      receivedBytes += packet.payload.length + 12;
    },
  });
  await hub.start();
  const { config, dir } = benchConfigFromArgs(values, hub.endpoint, values.pattern);
  const agent: ChildProcess = spawnAgent(config, dir, { from: "dist" });
  const agentPid = agent.pid ?? 0;
  try {
    await waitForControlSocket(config.control.socketPath);
    await sendControlCommand(config.control.socketPath, "start");
    await waitForLive(config.control.socketPath);
    await sleep(Number(values.warmup) * 1000);
    // Only the feed workers: any other child (a loader's helper, say) is not the encoder's cost.
    const workers = await childPids(agentPid, "feed-worker");
    const before = await Promise.all([agentPid, ...workers].map(cpuSeconds));
    const startReceived = { packets: received, bytes: receivedBytes };
    await sleep(seconds * 1000);
    const after = await Promise.all([agentPid, ...workers].map(cpuSeconds));
    const used = after.map((value, i) => value - (before[i] ?? 0));
    const agentCpu = used[0] ?? 0;
    const workerCpu = used.slice(1);
    const packets = received - startReceived.packets;
    const mbps = ((receivedBytes - startReceived.bytes) * 8) / seconds / 1e6;
    console.log(
      `spoke forwarding benchmark: ${feedCount} × ${values.width}x${values.height} ${values.pattern}, ${seconds} s`,
    );
    console.log(
      `  received at hub        ${(packets / seconds).toFixed(0)} packets/s, ${mbps.toFixed(2)} Mbit/s`,
    );
    console.log(
      `  agent (Node, werift)   ${percent(agentCpu)} total, ${percent(agentCpu / feedCount)} per stream`,
    );
    workerCpu.forEach((cpu, i) => {
      console.log(`  worker ${i + 1} (GStreamer)  ${percent(cpu)}`);
    });
    console.log(`  agent µs per packet    ${((agentCpu * 1e6) / Math.max(1, packets)).toFixed(1)}`);
  } finally {
    agent.kill("SIGTERM");
    await exited(agent);
    await hub.stop();
  }
}

async function waitForLive(path: string): Promise<void> {
  for (let i = 0; i < 200; i += 1) {
    const response = await sendControlCommand(path, "status");
    if (response.ok && response.session.state === "live") return;
    if (response.ok && response.session.state === "error")
      throw new Error(JSON.stringify(response.session.error));
    await sleep(100);
  }
  throw new Error("the session did not go live");
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
