import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { SpokeConfig } from "../agent/config/schema.js";
import { parseConfig } from "../agent/config/validate.js";
import { createLogger } from "../agent/log.js";
import { type RunningAgent, startAgent } from "../agent/main.js";
import { stopOnSignals } from "../agent/signals.js";
import { startMosquitto } from "./mosquitto.js";
import { DevHub } from "./server.js";

const DEMO_TOKEN = "demo-token";

/**
 * The demo's agent config: the three feeds of a consultation room on test sources, each its own WHIP
 * session to the local dev hub (the room camera with a test tone for its microphone), health to the
 * local broker. Sizes are set explicitly and kept modest, so that a 2-core box carries all three.
 */
export function demoConfig(
  whipUrl: (feedId: string) => string,
  mqttUrl: string,
  socketPath: string,
): SpokeConfig {
  const whip = (feedId: string) => ({ url: whipUrl(feedId), bearerToken: DEMO_TOKEN });
  return parseConfig(
    {
      deviceId: "demo-box",
      feeds: [
        {
          id: "room-camera",
          role: "camera",
          source: { type: "test", pattern: "smpte" },
          audio: { source: { type: "test", frequencyHz: 440 } },
          width: 1280,
          height: 720,
          framerate: 30,
          bitrateKbps: 2000,
          whip: whip("room-camera"),
        },
        {
          id: "document",
          role: "document",
          source: { type: "test", pattern: "smpte" },
          width: 1280,
          height: 720,
          framerate: 15,
          bitrateKbps: 1200,
          whip: whip("document"),
        },
        {
          id: "ultrasound",
          role: "ultrasound",
          source: { type: "test", pattern: "ball" },
          width: 1280,
          height: 720,
          framerate: 30,
          bitrateKbps: 1500,
          whip: whip("ultrasound"),
        },
      ],
      mqtt: { url: mqttUrl, healthIntervalSeconds: 5 },
      control: { socketPath },
      logLevel: "warn",
    },
    "the demo configuration",
  );
}

/** Starts the dev hub, or explains how to pick another port when this one is taken. */
async function startHub(options: DemoOptions, mqttUrl: string): Promise<DevHub> {
  const hub = new DevHub({ port: options.port, bearerToken: DEMO_TOKEN, mqttUrl, host: options.host });
  try {
    await hub.start();
  } catch (error) {
    const busy = (error as NodeJS.ErrnoException).code === "EADDRINUSE";
    if (busy) throw new Error(`port ${options.port} is in use: try ./scripts/demo.sh --port 9090`);
    throw error;
  }
  return hub;
}

/** Prints each session state change on the terminal, where the person pressing Enter looks. */
function echoSessionStates(agent: RunningAgent): NodeJS.Timeout {
  let shown = agent.session.report().state as string;
  return setInterval(() => {
    const { state, error } = agent.session.report();
    if (state === shown) return;
    shown = state;
    console.error(`  session ${state}${error ? ` (${error.code}: ${error.message})` : ""}`);
  }, 200);
}

export interface DemoOptions {
  port: number;
  host: string;
}

/**
 * The demo: the real agent on test sources, a locally started Mosquitto, and the dev hub page. Enter
 * in this terminal is the session button. The agent logs only warnings here, to keep the terminal
 * readable; session changes are printed plainly.
 */
export async function runDemo(options: DemoOptions): Promise<void> {
  const broker = await startMosquitto();
  const hub = await startHub(options, broker.url).catch(async (error: unknown) => {
    await broker.stop();
    throw error;
  });
  const stateDir = await mkdtemp(join(tmpdir(), "spoke-demo-"));
  const socketPath = join(stateDir, "control.sock");
  const config = demoConfig((feedId) => hub.whipUrl(feedId), broker.url, socketPath);
  const releaseHubSide = async (): Promise<void> => {
    await hub.stop();
    await broker.stop();
    await rm(stateDir, { recursive: true, force: true });
  };
  const agent = await startAgent(config, { log: createLogger(config.logLevel) }).catch(
    async (error: unknown) => {
      await releaseHubSide();
      throw error;
    },
  );
  const pageUrl = `http://${options.host === "0.0.0.0" ? "<this-box>" : "localhost"}:${options.port}/`;
  console.error(
    [
      "",
      `  Spoke demo is running. Open ${pageUrl} in a browser,`,
      "  then press Enter here to start or end the session (the session button).",
      `  Also: npx spoke session toggle --socket ${socketPath}`,
      `  Broker: ${broker.url} (topics spoke/v1/demo-box/#). Ctrl-C to quit.`,
      "",
    ].join("\n"),
  );
  const echo = echoSessionStates(agent);
  const terminal = createInterface({ input: process.stdin });
  terminal.on("line", () => agent.pressButton());
  stopOnSignals(async () => {
    clearInterval(echo);
    terminal.close();
    await agent.stop();
    await releaseHubSide();
  });
}
