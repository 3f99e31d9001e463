import type { Logger } from "pino";
import type { SpokeError } from "../core/errors.js";
import type { PlannedFeedSettings } from "../core/feed-plan.js";
import type { FeedStatus, LinkFigures } from "../core/feed-status.js";
import type { SystemSnapshot } from "../core/health.js";

/** The edges the application talks to; adapters implement them, tests may swap them. */

export interface MediaFeedEvents {
  /** The feed's H.264 RTP. */
  onPacket(packet: Buffer): void;
  /** The feed's Opus RTP (feeds with a microphone). */
  onAudioPacket(packet: Buffer): void;
  onStateChange(status: FeedStatus): void;
  /** A running feed failed; it is being restarted. */
  onFailure(error: SpokeError): void;
  /**
   * The next packets come from a new encoder (a worker restarted after a failure), whose RTP sequence
   * and timestamps start afresh. Called before its first packet, video or audio.
   */
  onNewEncoder(): void;
}

/** How a feed's first start ended: its worker runs, or it waits for its capture device to be plugged in. */
export type FeedStart = "running" | "waiting";

export interface MediaFeed {
  /**
   * Starts the feed's worker. `onSourceReady` is called once its capture device is known to be there,
   * before the worker runs, so that the publication can connect while the pipeline comes up.
   */
  start(onSourceReady?: () => void): Promise<FeedStart>;
  stop(): Promise<void>;
  requestKeyframe(): void;
  /** The encoder's target bitrate, kept within the feed's floor and ceiling. */
  setBitrate(kbps: number): void;
  /** Capture devices changed: a feed waiting to retry its source tries again now. */
  retryNow(): void;
  /** A step of the feed's degradation ladder (0: full), applied without ending the session. */
  setStep(index: number): Promise<void>;
  snapshot(): FeedStatus;
}

/** Builds a feed for one session; `log` carries the session's id. */
export type MediaFeedFactory = (feed: PlannedFeedSettings, events: MediaFeedEvents, log: Logger) => MediaFeed;

export interface PublisherEvents {
  /** The hub asked for a keyframe (RTCP PLI). */
  onKeyframeRequest(): void;
  /** ICE or DTLS failed after the connection was up. */
  onConnectionLost(error: SpokeError): void;
  /** An RTCP packet came from the hub (how the hub's liveness is judged). */
  onRtcp?(): void;
  /** The peer's ICE connection state changed (werift's names: checking, connected, disconnected, failed…). */
  onIceStateChange?(state: string): void;
}

/** How an ICE restart went: done, or the hub cannot do one (make a new session instead). */
export type IceRestartResult = "restarted" | "unsupported";

/** One WebRTC publication of one feed to one WHIP endpoint. */
export interface Publisher {
  /** Offers, posts to the WHIP endpoint and waits until media can flow. */
  connect(): Promise<void>;
  /** The feed's H.264 RTP. */
  writeRtp(packet: Buffer): void;
  /** True while video is held back for the connection's first keyframe (not sent, so not media). */
  holdingVideo?(): boolean;
  /** The feed's Opus RTP; dropped when the hub took no audio. */
  writeAudioRtp(packet: Buffer): void;
  /** Keeps RTP sequence numbers and timestamps continuous, video and audio, across an encoder restart. */
  markDiscontinuity(): void;
  /**
   * Restarts ICE on the live session (WHIP PATCH, RFC 9725 §4.4), using the hub's STUN/TURN servers.
   * Rejects when the restart failed; the hub keeps the session.
   */
  restartIce(): Promise<IceRestartResult>;
  /**
   * What congestion control knows of the publication's network: the estimate (kbit/s) and, once
   * receiver reports came, RTT and loss. Undefined before media flows or without congestion control.
   */
  network?(): PublicationNetwork | undefined;
  /** Ends the publication (WHIP DELETE, close the peer). Idempotent. */
  close(): Promise<void>;
}

export interface PublicationNetwork extends LinkFigures {
  estimateKbps: number;
}

export type PublisherFactory = (feed: PlannedFeedSettings, events: PublisherEvents, log: Logger) => Publisher;

export interface SystemProbe {
  snapshot(): Promise<SystemSnapshot>;
}

/**
 * Tells when capture devices may have come or gone (a camera or dongle plugged in or out). Listeners
 * are called after the change settles, with no detail: they read the devices again.
 */
export interface DeviceWatcher {
  /** Returns a function that removes the listener. */
  onChange(listener: () => void): () => void;
  /** Stops watching; no listener is called afterwards. */
  close(): void;
}
