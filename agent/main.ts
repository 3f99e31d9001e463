import type { Logger } from "pino";
import { ControlServer } from "./adapters/control/control-server.js";
import { ByIdWatcher } from "./adapters/devices/by-id-watcher.js";
import { SystemSourceResolver } from "./adapters/devices/system-source-resolver.js";
import { watchGpioButton } from "./adapters/gpio/onoff-button.js";
import { FeedRunner } from "./adapters/gstreamer/feed-runner.js";
import { DEFAULT_WORKER_TIMINGS, type WorkerTimings } from "./adapters/gstreamer/feed-worker-process.js";
import { WorkerPool } from "./adapters/gstreamer/worker-pool.js";
import { MqttLink } from "./adapters/mqtt/mqtt-link.js";
import { SysinfoProbe } from "./adapters/sysinfo/system-probe.js";
import { warmUpWebRtc } from "./adapters/webrtc/warm-up.js";
import { WeriftPublisher, type WeriftPublisherOptions } from "./adapters/webrtc/werift-publisher.js";
import { whipFailureOf } from "./adapters/whip/whip-client.js";
import { FleetReporter } from "./app/fleet-reporter.js";
import type { PublisherFactory } from "./app/ports.js";
import { SessionController, type SessionObserver } from "./app/session-controller.js";
import type { SpokeConfig } from "./config/schema.js";
import { SpokeError, toSpokeError } from "./core/errors.js";
import { type FeedPlanning, type MediaEnvironment, mediaSummary } from "./core/feed-plan.js";
import { sessionInputFor } from "./core/session-commands.js";
import { planMediaFor } from "./media-setup.js";
import { agentVersion } from "./version.js";

export interface AgentOptions {
  log: Logger;
  workerTimings?: WorkerTimings;
  /** What the box has for media; probed (and cached in `cacheDir`) when not given. */
  media?: MediaEnvironment;
  cacheDir?: string;
  /** The WebRTC stack behind the publisher port; werift's unless a bench or test picks another. */
  publisherFactory?: PublisherFactory;
}

export interface RunningAgent {
  session: SessionController;
  /** The media plan the agent runs: platform, encoders and modes per feed. */
  media: Extract<FeedPlanning, { ok: true }>;
  /** Presses the session button (the GPIO button, the control socket and the demo's Enter all come here). */
  pressButton(): void;
  /** The spare feed worker waiting for a feed to start, if one is forked. */
  readonly spareWorkerPid: number | undefined;
  stop(): Promise<void>;
}

/** The configured STUN/TURN servers and ICE policy, used from every publication's first offer. */
function iceOptions(config: SpokeConfig): WeriftPublisherOptions {
  const network = config.network;
  if (!network) return {};
  return { iceServers: network.iceServers ?? [], iceTransportPolicy: network.iceTransportPolicy };
}

/** The composition root: builds every adapter from the config and wires them together. */
export async function startAgent(config: SpokeConfig, options: AgentOptions): Promise<RunningAgent> {
  const { log } = options;
  const media = await planMedia(config, options);
  const version = agentVersion();
  const timings = options.workerTimings ?? DEFAULT_WORKER_TIMINGS;
  const sources = new SystemSourceResolver();
  // A spare feed worker per feed while idle, so that a start forks nothing; one while live, for a
  // restart after a crash. Spares have GStreamer loaded and no device open.
  const workers = new WorkerPool(log.child({ module: "workers" }), {
    idleSpares: media.feeds.length,
    liveSpares: 1,
  });
  const link = new MqttLink(config.mqtt, config.deviceId, version, log.child({ module: "mqtt" }));
  const reporter = new FleetReporter(
    link,
    new SysinfoProbe(),
    {
      deviceId: config.deviceId,
      agentVersion: version,
      healthIntervalMs: config.mqtt.healthIntervalSeconds * 1000,
      startedAt: new Date(),
      media: mediaSummary(media.capacity),
    },
    log.child({ module: "fleet" }),
  );
  const session = new SessionController(
    media.feeds,
    (feed, events, sessionLog) => new FeedRunner(feed, sources, timings, events, sessionLog, { workers }),
    options.publisherFactory ??
      ((feed, events, sessionLog) => new WeriftPublisher(feed, events, sessionLog, iceOptions(config))),
    withSparesFollowing(reporter, workers),
    log,
    {
      ...(config.network?.siteBudgetKbps !== undefined && { siteBudgetKbps: config.network.siteBudgetKbps }),
      // By default congestion control only reports: its estimate does not yet climb from its start
      // rate on real links (docs/webrtc.md), and driving would hold every feed there.
      driveEncoders: config.network?.congestionControl === "drive",
      // Reconnection and start retries tell a hub starting up (5xx, Retry-After) from a wrong config.
      connection: { failureOf: whipFailureOf },
    },
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

  // Hotplug: udev's by-id links come and go with the devices; a feed waiting for its device retries.
  const devices = [new ByIdWatcher(), new ByIdWatcher({ root: "/dev/snd/by-id" })];
  for (const watcher of devices) {
    watcher.onChange(() => {
      sources.invalidate();
      session.devicesChanged();
    });
  }

  let releaseButton: () => void = () => undefined;
  // One teardown path, also for a start that fails half-way: every step is safe on a part not started.
  const stop = async (): Promise<void> => {
    releaseButton();
    for (const watcher of devices) watcher.close();
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
    // Not awaited: the agent answers at once; the first session finds the work done.
    warmUpWebRtc().catch((error: unknown) =>
      log.warn({ error: toSpokeError(error).toInfo() }, "WebRTC warm-up failed; the first start pays for it"),
    );
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
    media,
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

/** The session's observer, also telling the worker pool whether a session runs (how many spares to keep). */
function withSparesFollowing(observer: SessionObserver, workers: WorkerPool): SessionObserver {
  return {
    sessionChanged(report) {
      workers.setLive(report.state !== "idle" && report.state !== "error");
      observer.sessionChanged(report);
    },
    feedChanged: (status) => observer.feedChanged(status),
    feedFailed: (feedId, error) => observer.feedFailed(feedId, error),
  };
}

/** Probes the box (or takes what the caller measured) and plans every feed on it; refuses what cannot run. */
async function planMedia(
  config: SpokeConfig,
  options: AgentOptions,
): Promise<Extract<FeedPlanning, { ok: true }>> {
  const log = options.log.child({ module: "media" });
  const { environment, planning } = await planMediaFor(config, { ...options, log });
  if (!planning.ok) throw new SpokeError("SPOKE_CAPACITY_EXCEEDED", planning.error);
  log.info(
    {
      platform: environment.platform,
      feeds: planning.feeds.map((feed) => ({
        id: feed.feed.id,
        encoder: feed.encoder,
        mode: feed.profile.mode,
      })),
    },
    "media plan",
  );
  for (const warning of planning.capacity.warnings) log.warn(warning);
  return planning;
}
