import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { SpokeConfig } from "../agent/config/schema.js";
import { parseConfig } from "../agent/config/validate.js";
import { createLogger } from "../agent/log.js";
import { startAgent } from "../agent/main.js";
import { startMosquitto } from "./mosquitto.js";
import { DevHub } from "./server.js";

const DEMO_TOKEN = "demo-token";

/** The demo's agent config: a test picture published to the local dev hub, health to the local broker. */
export function demoConfig(whipUrl: string, mqttUrl: string, socketPath: string): SpokeConfig {
  return parseConfig(
    {
      deviceId: "demo-box",
      feeds: [
        {
          id: "room-camera",
          role: "camera",
          source: { type: "test", pattern: "smpte" },
          width: 1280,
          height: 720,
          framerate: 30,
          bitrateKbps: 2000,
          whip: { url: whipUrl, bearerToken: DEMO_TOKEN },
        },
      ],
      mqtt: { url: mqttUrl, healthIntervalSeconds: 5 },
      control: { socketPath },
      logLevel: "info",
    },
    "the demo configuration",
  );
}

/**
 * The demo: the real agent on test sources, a locally started Mosquitto, and the dev hub page. Enter
 * in this terminal is the session button.
 */
export async function runDemo(options: { port: number; host: string }): Promise<void> {
  const broker = await startMosquitto();
  const hub = new DevHub({
    port: options.port,
    bearerToken: DEMO_TOKEN,
    mqttUrl: broker.url,
    host: options.host,
  });
  await hub.start();
  const stateDir = await mkdtemp(join(tmpdir(), "spoke-demo-"));
  const socketPath = join(stateDir, "control.sock");
  const config = demoConfig(hub.whipUrl("room"), broker.url, socketPath);
  const agent = await startAgent(config, { log: createLogger("info") });
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
  const terminal = createInterface({ input: process.stdin });
  terminal.on("line", () => agent.pressButton());
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    terminal.close();
    await agent.stop();
    await hub.stop();
    await broker.stop();
    await rm(stateDir, { recursive: true, force: true });
    process.exit(0);
  };
  const onSignal = (): void => {
    stop().catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}
