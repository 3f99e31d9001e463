import type { Logger } from "pino";
import type { ErrorInfo } from "../core/errors.js";
import type { FeedStatus } from "../core/feed-status.js";
import { buildHealthReport, type MediaSummary, type SessionReport } from "../core/health.js";
import type { FleetPublish } from "../core/topics.js";
import type { SystemProbe } from "./ports.js";
import type { SessionObserver } from "./session-controller.js";

export interface FleetSink {
  publish(message: FleetPublish): void;
}

export interface FleetReporterOptions {
  deviceId: string;
  agentVersion: string;
  healthIntervalMs: number;
  startedAt: Date;
  media?: MediaSummary;
}

/** Turns session and feed changes into fleet messages, and publishes health on an interval and on change. */
export class FleetReporter implements SessionObserver {
  private timer: NodeJS.Timeout | undefined;
  private readFeeds: () => FeedStatus[] = () => [];
  private readSession: () => SessionReport | undefined = () => undefined;

  constructor(
    private readonly sink: FleetSink,
    private readonly probe: SystemProbe,
    private readonly options: FleetReporterOptions,
    private readonly log: Logger,
  ) {}

  /** Starts periodic health, reading the current session and feeds through the given functions. */
  start(readSession: () => SessionReport, readFeeds: () => FeedStatus[]): void {
    this.readSession = readSession;
    this.readFeeds = readFeeds;
    this.sink.publish({ topic: "session", payload: readSession(), retain: true });
    this.publishHealth();
    this.timer = setInterval(() => this.publishHealth(), this.options.healthIntervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  sessionChanged(report: SessionReport): void {
    this.sink.publish({ topic: "session", payload: report, retain: true });
    // A failure is reported as the session stops with it, then again in `error`: one event, not two.
    if (report.state === "stopping" && report.error) this.event("session_failed", { error: report.error });
    this.publishHealth();
  }

  feedChanged(_status: FeedStatus): void {
    this.publishHealth();
  }

  feedFailed(feedId: string, error: ErrorInfo): void {
    this.event("feed_failed", { feed: feedId, error });
  }

  private event(type: string, data: Record<string, unknown>): void {
    this.sink.publish({
      topic: "events",
      payload: { type, at: new Date().toISOString(), ...data },
      retain: false,
    });
  }

  private publishHealth(): void {
    const session = this.readSession();
    if (!session) return;
    this.probe.snapshot().then(
      (system) => {
        const report = buildHealthReport({
          deviceId: this.options.deviceId,
          agentVersion: this.options.agentVersion,
          now: new Date(),
          agentStartedAt: this.options.startedAt,
          system,
          session: this.readSession() ?? session,
          feeds: this.readFeeds(),
          ...(this.options.media ? { media: this.options.media } : {}),
        });
        this.sink.publish({ topic: "health", payload: report, retain: true });
      },
      (error: unknown) => this.log.warn({ error: String(error) }, "could not read system figures for health"),
    );
  }
}
