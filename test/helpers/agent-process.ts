import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { sendControlCommand } from "../../agent/adapters/control/control-client.js";
import type { SpokeConfig } from "../../agent/config/schema.js";

/**
 * Runs `spoke run --config …` as its own process, as systemd would: from the sources through tsx, or
 * from the compiled `dist/` as installed on a box (build first).
 */
export function spawnAgent(
  config: SpokeConfig,
  dir: string,
  options: { from?: "sources" | "dist" } = {},
): ChildProcess {
  const file = join(dir, "config.json");
  writeFileSync(file, JSON.stringify(config));
  const entry = options.from === "dist" ? ["dist/agent/cli.js"] : ["--import", "tsx", "agent/cli.ts"];
  const child = spawn(process.execPath, [...entry, "run", "--config", file], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  child.stdout?.resume();
  return child;
}

export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

export interface FleetMessage {
  topic: string;
  payload: Record<string, unknown>;
  retained: boolean;
}

/** An operator's view: subscribes to one device's topics and records everything that arrives. */
export class FleetWatcher {
  readonly messages: FleetMessage[] = [];
  private client: MqttClient | undefined;

  constructor(
    private readonly url: string,
    private readonly deviceId: string,
  ) {}

  async start(): Promise<void> {
    const client = await mqtt.connectAsync(this.url, { protocolVersion: 5 });
    this.client = client;
    client.on("message", (topic, payload, packet) => {
      this.messages.push({ topic, payload: JSON.parse(payload.toString("utf8")), retained: packet.retain });
    });
    await client.subscribeAsync(`spoke/v1/${this.deviceId}/#`, { qos: 1 });
  }

  async stop(): Promise<void> {
    await this.client?.endAsync();
  }

  /** Messages on one topic (`status`, `health`, `session`, `events`). */
  on(name: string): Record<string, unknown>[] {
    return this.messages.filter((m) => m.topic === `spoke/v1/${this.deviceId}/${name}`).map((m) => m.payload);
  }

  latest(name: string): Record<string, unknown> | undefined {
    return this.on(name).at(-1);
  }
}

/** Waits until an agent answers on its control socket (it has finished starting). */
export async function waitForControlSocket(socketPath: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answered = await sendControlCommand(socketPath, "status").then(
      () => true,
      () => false,
    );
    if (answered) return;
    if (Date.now() > deadline) throw new Error(`no agent answered on ${socketPath} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
