import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { type ErrorInfo, type SpokeError, toSpokeError } from "../core/errors.js";
import { idleFeedStatus, type PlannedFeedSettings } from "../core/feed-plan.js";
import type { FeedStatus } from "../core/feed-status.js";
import { type SessionReport, sessionReport } from "../core/health.js";
import { type SessionInput, type SessionState, transition } from "../core/session-machine.js";
import { BitrateSteering, type SteeringTimer } from "./bitrate-steering.js";
import { FeedConnection, type FeedConnectionOptions } from "./feed-connection.js";
import type { FeedStart, MediaFeed, MediaFeedFactory, PublisherFactory } from "./ports.js";

export interface SessionObserver {
  sessionChanged(report: SessionReport): void;
  feedChanged(status: FeedStatus): void;
  feedFailed(feedId: string, error: ErrorInfo): void;
}

/** The media of one session: a feed and its publication per configured feed. */
interface Publication {
  feed: MediaFeed;
  /** The feed's publication, which reconnects to the hub by itself when it loses it. */
  publisher: FeedConnection;
  feedId: string;
  /** The feed waited for its device at the start: its WHIP session is made when the feed runs. */
  connectWhenRunning: boolean;
}

export interface SessionControllerOptions {
  /** The most all feeds may send together (`network.siteBudgetKbps`). */
  siteBudgetKbps?: number;
  /** What ticks the bitrate steering; the real interval timer by default. */
  steeringTimer?: SteeringTimer;
  /** Let congestion control set the encoders' bitrates and steps (off: it only reports). */
  driveEncoders?: boolean;
  /** How each feed's connection tells WHIP failures apart, and its clock (tests). */
  connection?: FeedConnectionOptions;
}

const NO_SOURCE: ErrorInfo = {
  code: "SPOKE_FEED_SOURCE_MISSING",
  message: "no capture device is plugged in",
};

/**
 * Runs the session state machine and executes its effects. A session has exactly one teardown path
 * (`teardown`), taken on a stop request, a failed start and a lost connection alike.
 */
export class SessionController {
  private state: SessionState = { kind: "idle" };
  private since = new Date();
  private publications: Publication[] = [];
  private teardownDone: Promise<void> = Promise.resolve();
  private readonly log: Logger;
  /** Drives the encoders from congestion control while the session is live. */
  private steering: BitrateSteering | undefined;

  constructor(
    private readonly feeds: readonly PlannedFeedSettings[],
    private readonly createFeed: MediaFeedFactory,
    private readonly createPublisher: PublisherFactory,
    private readonly observer: SessionObserver,
    private readonly rootLog: Logger,
    private readonly options: SessionControllerOptions = {},
  ) {
    this.log = rootLog.child({ module: "session" });
  }

  report(): SessionReport {
    return sessionReport(this.state, this.since);
  }

  feedStatuses(): FeedStatus[] {
    if (this.publications.length > 0)
      return this.publications.map((p) => this.withNetwork(p.feed.snapshot()));
    return this.feeds.map(idleFeedStatus);
  }

  /** Feeds an input to the machine; returns false when the input does not apply in the current state. */
  dispatch(input: SessionInput): boolean {
    const next = transition(this.state, input);
    if (!next) {
      this.log.debug({ state: this.state.kind, input: input.type }, "session input ignored");
      return false;
    }
    this.log.info({ from: this.state.kind, to: next.state.kind, input: input.type }, "session state");
    this.state = next.state;
    this.since = new Date();
    this.observer.sessionChanged(this.report());
    if (next.effect?.type === "startSession") this.startSession();
    if (next.effect?.type === "stopSession") this.teardown();
    return true;
  }

  /**
   * A running session's feed, for what steers it while live (bitrate, degradation steps); undefined
   * outside a session.
   */
  mediaFeed(feedId: string): MediaFeed | undefined {
    const index = this.feeds.findIndex((settings) => settings.feed.id === feedId);
    return index < 0 ? undefined : this.publications[index]?.feed;
  }

  /** A capture device was plugged in or out: feeds waiting for theirs try again at once. */
  devicesChanged(): void {
    for (const publication of this.publications) publication.feed.retryNow();
  }

  /** Stops any session and waits until its media is released (agent shutdown). */
  async shutdown(): Promise<void> {
    this.dispatch({ type: "stopRequested" });
    await this.teardownDone;
  }

  private startSession(): void {
    // Everything one session does is logged with its id, so a technician can follow it through.
    const sessionLog = this.rootLog.child({ session: randomUUID().slice(0, 8) });
    this.publications = this.feeds.map((feed) => this.createPublication(feed, sessionLog));
    const current = this.publications;
    Promise.all(current.map((publication) => this.startPublication(publication))).then(
      (starts) => {
        if (this.publications !== current) return;
        // Nothing to publish when every feed waits for its device: say so instead of a silent session.
        if (starts.every((start) => start === "waiting")) {
          const error = current[0]?.feed.snapshot().lastError;
          this.dispatch({ type: "publishFailed", error: error ?? NO_SOURCE });
          return;
        }
        if (this.dispatch({ type: "published" })) {
          this.startSteering(current, sessionLog);
          // A feed may have lost the hub while the others were still connecting.
          this.linkChanged();
        }
      },
      (error: unknown) => {
        if (this.publications === current)
          this.dispatch({ type: "publishFailed", error: toSpokeError(error).toInfo() });
      },
    );
  }

  /** Wires a feed and its publisher to each other: RTP flows one way, keyframe requests the other. */
  private createPublication(settings: PlannedFeedSettings, log: Logger): Publication {
    const feed = settings.feed;
    let publisher: FeedConnection | undefined;
    let publication: Publication | undefined;
    const mediaFeed = this.createFeed(
      settings,
      {
        onPacket: (packet) => publisher?.writeRtp(packet),
        onAudioPacket: (packet) => publisher?.writeAudioRtp(packet),
        onStateChange: (status) => {
          this.observer.feedChanged(this.withNetwork(status));
          if (status.state === "running" && publication?.connectWhenRunning)
            this.connectLate(publication, log);
        },
        onFailure: (error) => this.observer.feedFailed(feed.id, error.toInfo()),
        onNewEncoder: () => publisher?.markDiscontinuity(),
      },
      log.child({ module: "feed", feed: feed.id }),
    );
    publisher = new FeedConnection(
      settings,
      {
        onKeyframeRequest: () => mediaFeed.requestKeyframe(),
        onConnectionLost: (error: SpokeError) => {
          log.warn({ feed: feed.id, error: error.toInfo() }, "connection to the hub lost");
          this.dispatch({ type: "connectionLost", error: error.toInfo() });
        },
        onLinkChange: () => {
          this.observer.feedChanged(this.withNetwork(mediaFeed.snapshot()));
          this.linkChanged();
        },
      },
      log.child({ module: "webrtc", feed: feed.id }),
      this.createPublisher,
      this.options.connection,
    );
    publication = { feedId: feed.id, feed: mediaFeed, publisher, connectWhenRunning: false };
    return publication;
  }

  /**
   * Starts the feed's worker and the WHIP signalling at once: the POST leaves as soon as the feed's
   * device is known to be there, not after the pipeline's first packet, so worker start and ICE/DTLS
   * overlap. A feed whose device is missing does not bother the hub; it connects when it runs.
   */
  private async startPublication(publication: Publication): Promise<FeedStart> {
    let connecting: Promise<void> | undefined;
    // A hub that refuses the POST fails the start at once, not after the worker is up.
    let connectFailed: (error: unknown) => void = () => undefined;
    const failedEarly = new Promise<never>((_, reject) => {
      connectFailed = reject;
    });
    failedEarly.catch(() => undefined);
    const started = publication.feed.start(() => {
      connecting = this.connect(publication);
      // When the feed's start fails first, the teardown closes the publisher.
      connecting.catch(connectFailed);
    });
    const start = await Promise.race([started, failedEarly]);
    if (start === "waiting" && !connecting) {
      publication.connectWhenRunning = true;
      return start;
    }
    // A feed that runs without having announced its source (the port's callback is optional) is
    // published now, so that no running feed is left without its WHIP session.
    await (connecting ?? this.connect(publication));
    return start;
  }

  private async connect({ feed, publisher }: Publication): Promise<void> {
    await publisher.connect();
    // The hub needs a keyframe to show anything, and what the encoder sent before DTLS was up is lost:
    // force one the moment media can flow instead of waiting for the next periodic one.
    feed.requestKeyframe();
  }

  /**
   * A feed whose device was plugged in during the session: publish it now. If the hub refuses it, only
   * this feed is off the air (reported as a feed failure); the others stay live.
   */
  private connectLate(publication: Publication, log: Logger): void {
    publication.connectWhenRunning = false;
    if (!this.publications.includes(publication)) return;
    this.connect(publication).catch((error: unknown) => {
      if (!this.publications.includes(publication)) return;
      const failure = toSpokeError(error).toInfo();
      log.warn({ error: failure }, "could not publish the feed whose device came back");
      this.observer.feedFailed(publication.feedId, failure);
    });
  }

  private startSteering(current: readonly Publication[], log: Logger): void {
    const steered = current.map((publication, index) => {
      const settings = this.feeds[index];
      if (!settings) throw new Error("a publication without its feed's settings");
      return {
        id: publication.feedId,
        role: settings.feed.role,
        policy: settings.profile.policy,
        feed: publication.feed,
        network: () => publication.publisher.network?.(),
      };
    });
    const { siteBudgetKbps, steeringTimer, driveEncoders } = this.options;
    this.steering = new BitrateSteering(
      steered,
      {
        ...(siteBudgetKbps !== undefined && { siteBudgetKbps }),
        ...(driveEncoders !== undefined && { drive: driveEncoders }),
        ...(steeringTimer && { timer: steeringTimer }),
      },
      log.child({ module: "steering" }),
    );
    this.steering.start();
  }

  /** A feed's status with what congestion control and steering say of its network, and its hub link. */
  private withNetwork(status: FeedStatus): FeedStatus {
    const network = this.steering?.networkOf(status.id);
    const publication = this.publications.find((p) => p.feedId === status.id);
    const link = publication?.publisher.link();
    return { ...status, ...(network && { network }), ...(link && { link }) };
  }

  /** The session is `degraded` while any feed is reconnecting to its hub, `live` again once none is. */
  private linkChanged(): void {
    const reconnecting = this.publications.some((p) => {
      const { state } = p.publisher.link();
      return state === "reconnecting" || state === "waiting-for-hub";
    });
    this.dispatch({ type: reconnecting ? "feedsLost" : "feedsRestored" });
  }

  private teardown(): void {
    this.steering?.stop();
    this.steering = undefined;
    this.teardownDone = this.releasePublications(this.publications).then(() => {
      this.publications = [];
      this.dispatch({ type: "stopped" });
    });
  }

  /** Releases every resource of a session; a step that fails is logged and the others still run. */
  private async releasePublications(ending: readonly Publication[]): Promise<void> {
    const steps = ending.flatMap(({ feed, publisher }) => [publisher.close(), feed.stop()]);
    for (const result of await Promise.allSettled(steps)) {
      if (result.status === "rejected") {
        this.log.error({ error: toSpokeError(result.reason).toInfo() }, "session teardown step failed");
      }
    }
  }
}
