import type { Logger } from "pino";
import { ControlServer } from "./adapters/control/control-server.js";
import { watchGpioButton } from "./adapters/gpio/onoff-button.js";
import { FeedRunner } from "./adapters/gstreamer/feed-runner.js";
import { DEFAULT_WORKER_TIMINGS, type WorkerTimings } from "./adapters/gstreamer/feed-worker-process.js";
import { WorkerPool } from "./adapters/gstreamer/worker-pool.js";
import { MqttLink } from "./adapters/mqtt/mqtt-link.js";
import { SysinfoProbe } from "./adapters/sysinfo/system-probe.js";
import { WeriftPublisher } from "./adapters/webrtc/werift-publisher.js";
import { FleetReporter } from "./app/fleet-reporter.js";
import { SessionController } from "./app/session-controller.js";
import type { SpokeConfig } from "./config/schema.js";
import { sessionInputFor } from "./core/session-commands.js";
import { agentVersion } from "./version.js";

export interface AgentOptions {
  log: Logger;
  workerTimings?: WorkerTimings;
}

export interface RunningAgent {
  session: SessionController;
  /** Presses the session button (the GPIO button, the control socket and the demo's Enter all come here). */
  pressButton(): void;
  /** The spare feed worker waiting for a feed to start, if one is forked. */
  readonly spareWorkerPid: number | undefined;
  stop(): Promise<void>;
}

/** The composition root: builds every adapter from the config and wires them together. */
export async function startAgent(config: SpokeConfig, options: AgentOptions): Promise<RunningAgent> {
  const { log } = options;
  const version = agentVersion();
  const timings = options.workerTimings ?? DEFAULT_WORKER_TIMINGS;
  // One spare feed worker for the whole agent: any feed's start or restart takes it.
  const workers = new WorkerPool(log.child({ module: "workers" }));
  const link = new MqttLink(config.mqtt, config.deviceId, version, log.child({ module: "mqtt" }));
  const reporter = new FleetReporter(
    link,
    new SysinfoProbe(),
    {
      deviceId: config.deviceId,
      agentVersion: version,
      healthIntervalMs: config.mqtt.healthIntervalSeconds * 1000,
      startedAt: new Date(),
    },
    log.child({ module: "fleet" }),
  );
  const session = new SessionController(
    config.feeds,
    (feed, events, sessionLog) => new FeedRunner(feed, timings, events, sessionLog, { workers }),
    (feed, events, sessionLog) => new WeriftPublisher(feed, events, sessionLog),
    reporter,
    log,
  );
  const pressButton = (): void => {
    session.dispatch({ type: "buttonPressed" });
  };
  const control = new ControlServer(
    config.control.socketPath,
    (command) => {
      const input = sessionInputFor(command);
      const accepted = input ? session.dispatch(input) : true;
      return { ok: true, accepted, session: session.report() };
    },
    log.child({ module: "control" }),
  );

  let releaseButton: () => void = () => undefined;
  // One teardown path, also for a start that fails half-way: every step is safe on a part not started.
  const stop = async (): Promise<void> => {
    releaseButton();
    await control.stop();
    await session.shutdown();
    await workers.stop();
    reporter.stop();
    await link.stop();
  };

  // First, as it may refuse (another agent running): then nothing else has been started.
  await control.start();
  try {
    workers.start();
    link.start();
    reporter.start(
      () => session.report(),
      () => session.feedStatuses(),
    );
    if (config.button.gpio) {
      releaseButton = await watchGpioButton(config.button.gpio, pressButton, log.child({ module: "gpio" }));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  log.info(
    { deviceId: config.deviceId, version, feeds: config.feeds.map((feed) => feed.id) },
    "agent started",
  );

  return {
    session,
    pressButton,
    get spareWorkerPid() {
      return workers.sparePid;
    },
    async stop() {
      await stop();
      log.info("agent stopped");
    },
  };
}
