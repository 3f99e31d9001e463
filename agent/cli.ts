#!/usr/bin/env node
/**
 * The `spoke` command: `run` the agent, drive its `session`, `check-config` a file, list the `devices`,
 * or run the `demo`.
 */
import { parseArgs } from "node:util";
import { loadConfigFile } from "./adapters/config/config-file.js";
import { sendControlCommand } from "./adapters/control/control-client.js";
import { readSystemDevices } from "./adapters/devices/system-devices.js";
import { defaultCacheDir, readMediaEnvironment } from "./adapters/gstreamer/media-environment.js";
import { configSchema } from "./config/schema.js";
import { configWithSecretsHidden } from "./config/secrets.js";
import { buildDevicesReport, formatDevicesReport, formatPlan } from "./core/devices/report.js";
import { isSpokeError, SpokeError } from "./core/errors.js";
import { isSessionCommand } from "./core/session-commands.js";
import { createLogger } from "./log.js";
import { startAgent } from "./main.js";
import { devicesPlan, encoderReports, planMediaFor } from "./media-setup.js";
import { stopOnSignals } from "./signals.js";

const USAGE = `usage:
  spoke run --config <file.json>          run the agent
  spoke session start|stop|toggle|status  drive the running agent's session [--socket <path>]
  spoke check-config <file.json>          validate a configuration file; print it with defaults, secrets hidden
  spoke devices [--json] [--config <f>]   the cameras, capture devices, microphones and encoders found; with a config, how its feeds run here
  spoke demo [--port 8080] [--host 0.0.0.0]  the agent on test sources, a local broker and the viewer page`;

const DEFAULT_SOCKET = configSchema.shape.control.parse(undefined).socketPath;

async function run(config: string | undefined): Promise<void> {
  if (!config) throw new Error(`run needs --config <file>\n${USAGE}`);
  const loaded = await loadConfigFile(config);
  const log = createLogger(loaded.logLevel);
  const agent = await startAgent(loaded, { log });
  stopOnSignals(() => agent.stop());
}

async function session(command: string | undefined, socketPath: string): Promise<void> {
  if (!isSessionCommand(command)) throw new Error(`session needs start, stop, toggle or status\n${USAGE}`);
  const response = await sendControlCommand(socketPath, command);
  if (!response.ok) throw new Error(`${response.error.code}: ${response.error.message}`);
  const note = response.accepted ? "" : ` (${command} does not apply while ${response.session.state})`;
  console.log(`session ${response.session.state}${note}`);
  if (response.session.error)
    console.log(`last error ${response.session.error.code}: ${response.session.error.message}`);
}

async function checkConfig(file: string | undefined): Promise<void> {
  if (!file) throw new Error(`check-config needs a file\n${USAGE}`);
  const config = await loadConfigFile(file);
  console.log(JSON.stringify(configWithSecretsHidden(config), null, 2));
  // Valid is not enough: the feeds must also fit what this box can encode.
  const { planning } = await planMediaFor(config, { log: createLogger("warn") });
  if (!planning.ok) throw new SpokeError("SPOKE_CAPACITY_EXCEEDED", `${file}: ${planning.error}`);
  console.log(formatPlan(devicesPlan(planning)).join("\n"));
  console.log(`${file}: valid`);
}

/** What the box has; with a configuration, also how its feeds would run here. */
async function devices(json: boolean, configFile: string | undefined): Promise<void> {
  const log = createLogger("warn");
  const [found, environment] = await Promise.all([
    readSystemDevices(),
    readMediaEnvironment({ cacheDir: defaultCacheDir(), log }),
  ]);
  const report = buildDevicesReport(found, encoderReports(environment.probes), environment.platform);
  if (configFile) {
    const config = await loadConfigFile(configFile);
    report.plan = devicesPlan((await planMediaFor(config, { log, media: environment })).planning);
  }
  console.log(json ? JSON.stringify(report, null, 2) : formatDevicesReport(report));
}

async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: "string", short: "c" },
      socket: { type: "string", default: DEFAULT_SOCKET },
      port: { type: "string", default: "8080" },
      host: { type: "string", default: "127.0.0.1" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  const [verb, argument] = positionals;
  switch (verb) {
    case "run":
      return run(values.config);
    case "session":
      return session(argument, values.socket);
    case "check-config":
      return checkConfig(argument ?? values.config);
    case "devices":
      return devices(values.json, values.config);
    case "demo": {
      const { runDemo } = await import("../devhub/demo.js");
      return runDemo({ port: Number(values.port), host: values.host });
    }
    default:
      console.log(USAGE);
      if (!values.help) process.exitCode = 2;
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (isSpokeError(error)) console.error(`spoke: ${error.code}: ${error.message}`);
  else console.error(`spoke: ${error instanceof Error ? error.message : String(error)}`);
  // Exit now: a half-started agent or demo may hold handles that would keep the process alive.
  // stderr is synchronous for files, terminals and pipes on Linux, so the message is out first.
  process.exit(1);
});
