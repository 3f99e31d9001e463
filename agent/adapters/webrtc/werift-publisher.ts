import { networkInterfaces } from "node:os";
import type { ConnectionOptions } from "node:tls";
import type { Logger } from "pino";
import {
  MediaStreamTrack,
  RTCPeerConnection,
  RTCRtpCodecParameters,
  type RTCRtpTransceiver,
  RtpPacket,
  useSdesMid,
  useTransportWideCC,
} from "werift";
import type { IceRestartResult, PublicationNetwork, Publisher, PublisherEvents } from "../../app/ports.js";
import { SpokeError, toSpokeError } from "../../core/errors.js";
import { feedLevel, type PlannedFeedSettings } from "../../core/feed-plan.js";
import type { FeedIceStatus } from "../../core/feed-status.js";
import { createFirstKeyframeGate } from "../../core/first-keyframe-gate.js";
import { iceStatus } from "../../core/ice-status.js";
import { startsKeyframe } from "../../core/pacer.js";
import { checkAnswerMedia, unusableAnswer } from "../../core/whip/answer-media.js";
import {
  hubTurnGraceMs,
  normalisedServers,
  restartServers,
  shouldRestartForHubTurn,
  turnServersNotOffered,
} from "../../core/whip/ice-servers.js";
import type { IceServerConfig } from "../../core/whip/link-header.js";
import {
  applyRemoteIce,
  buildSdpFrag,
  type OfferIce,
  readOfferIce,
  readRemoteIce,
  withCandidates,
} from "../../core/whip/sdpfrag.js";
import {
  deleteSession,
  patchCandidates,
  publishOffer,
  restartIce,
  type WhipEndpoint,
  type WhipSession,
} from "../whip/whip-client.js";
import { withWhipRetry } from "../whip/whip-retry.js";
import { replayEarlyClientHello } from "./early-dtls.js";
import {
  candidateAllowed,
  iceConnectionServers,
  relayPairsOnly,
  type SelectedCandidatePair,
  selectedCandidatePair,
  skippedInterfaceAddresses,
  useIceServers,
} from "./host-only-ice.js";
import { runIceChecksAfterRestart } from "./ice-restart-checks.js";
import { PacedSender } from "./paced-sender.js";
import { TransportFeedbackLoop } from "./transport-feedback-loop.js";

const CONNECT_TIMEOUT_MS = 15_000;
/**
 * How long the offer waits for the first host candidates. Binding the host sockets takes a few ms;
 * anything slower (STUN, TURN, a late interface) is trickled by PATCH instead of holding the POST.
 */
const FIRST_CANDIDATES_MS = 50;

export interface WeriftPublisherOptions {
  /** POST attempts in all (the retry plan between them); 1, the default, leaves retrying to the caller. */
  postAttempts?: number;
  /** Injected in tests: the waits between POST attempts. */
  sleep?: (ms: number) => Promise<void>;
  /** How long an offer waits for its first candidates (FIRST_CANDIDATES_MS); 0: not at all. */
  firstCandidatesMs?: number;
  /** STUN/TURN servers gathered with from the first offer on (`network.iceServers`). */
  iceServers?: readonly IceServerConfig[];
  /** `relay`: only relay candidates are used (`network.iceTransportPolicy`). */
  iceTransportPolicy?: "all" | "relay";
  /** TLS options for TURN over TLS (a private CA, say); by default Node's CA store and host name check. */
  turnTlsOptions?: ConnectionOptions;
  /** How long ICE may take before a restart with TURN servers only the hub named (`hubTurnGraceMs`). */
  hubTurnGraceMs?: number;
}

/**
 * Trickle ICE over WHIP PATCH (RFC 9725 §4.3): candidates found after the offer was made are buffered
 * until the hub's 201 (or restart 200), sent then in one PATCH, and afterwards one PATCH as each comes.
 * A hub without PATCH turns it off: the offer's candidates are what it gets.
 */
class Trickle {
  private buffered: string[] = [];
  private complete = false;
  private session: WhipSession | undefined;
  private ice: OfferIce | undefined;
  private sending: Promise<void> = Promise.resolve();
  private disabled = false;

  constructor(private readonly log: Logger) {}

  private hubHasNoPatch = false;

  /** The hub refused a trickle PATCH as having no PATCH at all (405/501): no ICE restart either. */
  get noPatch(): boolean {
    return this.hubHasNoPatch;
  }

  /** A new ICE generation: candidates before `open` are buffered again. */
  reset(): void {
    this.buffered = [];
    this.complete = false;
    this.session = undefined;
    this.ice = undefined;
  }

  add(candidate: string | undefined): void {
    if (candidate === undefined) this.complete = true;
    else this.buffered.push(candidate);
    if (this.session) this.flush();
  }

  /** The offer (or restart fragment) carried these; the rest goes by PATCH once the hub answered. */
  sentInOffer(candidates: readonly string[], complete: boolean): void {
    const sent = new Set(candidates);
    this.buffered = this.buffered.filter((candidate) => !sent.has(candidate));
    if (complete) this.complete = false;
  }

  open(session: WhipSession, ice: OfferIce): void {
    this.session = session;
    this.ice = ice;
    this.flush();
  }

  /** Resolves once the PATCHes queued so far are done (for tests and orderly close). */
  settled(): Promise<void> {
    return this.sending;
  }

  private flush(): void {
    const session = this.session;
    const ice = this.ice;
    if (!session || !ice || this.disabled) return;
    if (this.buffered.length === 0 && !this.complete) return;
    const candidates = this.buffered;
    const endOfCandidates = this.complete;
    this.buffered = [];
    this.complete = false;
    const body = buildSdpFrag(ice, candidates, { endOfCandidates });
    this.sending = this.sending.then(async () => {
      if (this.disabled) return;
      try {
        const outcome = await patchCandidates(session, body);
        if (outcome !== "sent") {
          this.disabled = true;
          this.hubHasNoPatch = outcome === "no-patch";
          const notice = new SpokeError(
            "SPOKE_WHIP_PATCH_UNSUPPORTED",
            outcome === "no-patch"
              ? "the hub has no WHIP PATCH: no trickle ICE, and an ICE restart becomes a new session"
              : "the hub takes no trickled candidates (422): it has those of the offer",
          );
          this.log.info(
            { error: notice.toInfo() },
            "the hub takes no trickle PATCH: it has the candidates of the offer",
          );
        }
      } catch (error) {
        this.log.warn({ error: toSpokeError(error).toInfo() }, "WHIP trickle PATCH failed");
      }
    });
  }
}

/** H.264 as the feed's pipeline emits it: its encoder's profile at its level, single NAL / FU-A packets. */
function h264Codec(settings: PlannedFeedSettings): RTCRtpCodecParameters {
  return new RTCRtpCodecParameters({
    mimeType: "video/H264",
    clockRate: 90000,
    rtcpFeedback: [
      { type: "nack" },
      { type: "nack", parameter: "pli" },
      { type: "goog-remb" },
      { type: "transport-cc" },
    ],
    parameters: `level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=${feedLevel(settings).profileLevelId}`,
  });
}

/**
 * Opus as WebRTC signals it: always `/48000/2` in the SDP (RFC 7587), whatever the encoder sends; the
 * worker's mono stream plays as such. 20 ms frames from the encoder, in-band FEC welcome.
 */
function opusCodec(): RTCRtpCodecParameters {
  return new RTCRtpCodecParameters({
    mimeType: "audio/opus",
    clockRate: 48000,
    channels: 2,
    rtcpFeedback: [{ type: "transport-cc" }],
    parameters: "minptime=10;useinbandfec=1",
  });
}

/** A packet waiting in the pacer, with what must happen to its track as it leaves. */
interface PacedRtp {
  outgoing: Outgoing;
  packet: Buffer;
  /** The first packet of a new encoder's stream: the sender re-bases sequence and timestamp on it. */
  discontinuity: boolean;
}

/** One sent track: its transceiver once added, and whether the next packet starts a new encoder's stream. */
interface Outgoing {
  track: MediaStreamTrack;
  transceiver?: RTCRtpTransceiver;
  discontinuity: boolean;
}

/**
 * Publishes one feed's encoded RTP over WebRTC with werift, signalled by WHIP: H.264 video, and Opus
 * audio beside it in the same peer connection when the feed has a microphone. The packets from the
 * GStreamer worker are passed through untouched apart from SSRC, payload type and sequence rewriting.
 */
export class WeriftPublisher implements Publisher {
  private readonly pc: RTCPeerConnection;
  private readonly video: Outgoing = { track: new MediaStreamTrack({ kind: "video" }), discontinuity: false };
  /** The feed's sound; undefined when it has none, or when the hub rejected it. */
  private audio: Outgoing | undefined;
  private readonly endpoint: WhipEndpoint;
  private session: WhipSession | undefined;
  private closed = false;
  private readonly trickle: Trickle;
  /** Candidates of the current ICE generation, as found. */
  private gathered: string[] = [];
  private gatheringDone = false;
  /** Congestion control's view of this publication: its estimate and the network figures for health. */
  readonly feedback: TransportFeedbackLoop;
  /** The configured STUN/TURN servers, in normal form: the first offer gathers with them. */
  private readonly configuredIce: IceServerConfig[];
  /** Armed while ICE is given its grace time before the hub's TURN servers are tried. */
  private hubTurnTimer: NodeJS.Timeout | undefined;
  /** Every RTP packet leaves through the pacer, so a keyframe does not leave as one burst. */
  private readonly paced: PacedSender<PacedRtp>;
  /** No video until the connection's first keyframe: the delta frames before it cannot be decoded. */
  private readonly firstKeyframe = createFirstKeyframeGate();

  constructor(
    settings: PlannedFeedSettings,
    private readonly events: PublisherEvents,
    private readonly log: Logger,
    private readonly options: WeriftPublisherOptions = {},
  ) {
    this.trickle = new Trickle(log);
    const feed = settings.feed;
    this.endpoint = feed.whip.bearerToken
      ? { url: feed.whip.url, bearerToken: feed.whip.bearerToken }
      : { url: feed.whip.url };
    const { minBitrateKbps, maxBitrateKbps } = settings.profile.policy;
    this.feedback = new TransportFeedbackLoop({
      minKbps: minBitrateKbps,
      maxKbps: maxBitrateKbps,
      profileKbps: settings.profile.bitrateKbps,
      log,
      // werift answers PLI itself but ignores FIR: the loop parses it, and it is paced like a PLI.
      onFir: () => this.events.onKeyframeRequest(),
    });
    this.paced = new PacedSender<PacedRtp>({
      send: (item) => this.send(item),
      targetKbps: () => this.feedback.targetBitrateKbps(),
      onKeyframeNeeded: () => {
        this.log.warn({ pacer: this.paced.stats() }, "pacer: stale video dropped, asking for a keyframe");
        this.events.onKeyframeRequest();
      },
      onSendError: (error) => this.log.warn({ error: toSpokeError(error).toInfo() }, "RTP send failed"),
    });
    if (feed.audio) this.audio = { track: new MediaStreamTrack({ kind: "audio" }), discontinuity: false };
    this.configuredIce = normalisedServers(options.iceServers ?? []);
    this.pc = new RTCPeerConnection({
      codecs: { video: [h264Codec(settings)], audio: this.audio ? [opusCodec()] : [] },
      headerExtensions: {
        video: [useSdesMid(), useTransportWideCC()],
        audio: this.audio ? [useSdesMid(), useTransportWideCC()] : [],
      },
      // Loopback lets a hub on the same box (the dev hub, tests) reach us; the tunnel interfaces werift
      // skips (tun*, tap*, ipsec*, veth*) are added back: a box may reach its hub only over its VPN.
      iceAdditionalHostAddresses: ["127.0.0.1", ...skippedInterfaceAddresses(networkInterfaces())],
      // No STUN/TURN server but the configured ones (set on the ICE connections in connect()): werift's
      // default, Google's public STUN server, would be contacted at every session start: a third party
      // the hospital's network should not see, and on an isolated network a wait for its timeout. WHIP
      // names the hub's STUN/TURN servers only in its 201 (Link headers): see armHubTurnRestart.
      iceServers: [],
      iceTransportPolicy: options.iceTransportPolicy ?? "all",
      ...(options.iceTransportPolicy === "relay" && { iceFilterCandidatePair: relayPairsOnly }),
      ...(options.turnTlsOptions && { turnTlsOptions: options.turnTlsOptions }),
    });
  }

  async connect(): Promise<void> {
    const transceiver = this.pc.addTransceiver(this.video.track, { direction: "sendonly" });
    this.video.transceiver = transceiver;
    transceiver.sender.onPictureLossIndication.subscribe(() => this.events.onKeyframeRequest());
    if (this.audio) {
      this.audio.transceiver = this.pc.addTransceiver(this.audio.track, { direction: "sendonly" });
    }
    // Also drops werift's fallback to Google's STUN server when none is configured (see dropStunFallback).
    useIceServers(this.pc, iceConnectionServers(this.configuredIce));
    this.pc.onIceCandidate.subscribe((candidate) => this.onCandidate(candidate?.toJSON().candidate));
    // For the start-time breakdown (bench:start): when our side's ICE is up, before DTLS.
    this.pc.iceConnectionStateChange
      .watch((state) => state === "connected")
      .then(() => this.log.info("ICE connected"))
      .catch(() => undefined);
    await this.setLocalOffer(await this.pc.createOffer());
    // The hub's ClientHello may come before werift listens for DTLS: kept, not lost (see early-dtls).
    replayEarlyClientHello(this.pc);
    const { sdp: offer, ice } = await this.offerWithCandidates();
    const session = await withWhipRetry(() => publishOffer(this.endpoint, offer), {
      maxAttempts: this.options.postAttempts ?? 1,
      stopped: () => this.closed,
      onRetry: (decision) =>
        this.log.warn({ delayMs: decision.delayMs, cause: decision.cause }, `WHIP POST: ${decision.reason}`),
      ...(this.options.sleep ? { sleep: this.options.sleep } : {}),
    });
    this.session = session;
    if (this.closed) {
      // Closed while the offer was in flight: end the hub's session too, or it lingers there.
      await deleteSession(this.endpoint, session.resourceUrl);
      throw new SpokeError("SPOKE_WEBRTC_FAILED", "publication closed while connecting");
    }
    await this.applyAnswer(session.answerSdp);
    this.trickle.open(session, ice);
    this.armHubTurnRestart(session);
    try {
      await this.connected();
    } finally {
      this.disarmHubTurnRestart();
    }
    this.firstKeyframe.connected(performance.now());
    this.log.info("WebRTC connected: media can flow");
    this.feedback.attach(transceiver, this.audio?.transceiver);
    this.pc.connectionStateChange.subscribe((state) => {
      if (state === "failed" || state === "closed") this.lost(state);
    });
    this.watchLiveness(transceiver);
  }

  /** Tells the caller of every RTCP packet from the hub and every ICE state: how a silent hub is noticed. */
  private watchLiveness(transceiver: RTCRtpTransceiver): void {
    const { onRtcp, onIceStateChange } = this.events;
    if (onRtcp) transceiver.dtlsTransport.onRtcp.subscribe(() => onRtcp());
    if (onIceStateChange) this.pc.iceConnectionStateChange.subscribe((state) => onIceStateChange(state));
  }

  writeRtp(packet: Buffer): void {
    this.write(this.video, packet);
  }

  writeAudioRtp(packet: Buffer): void {
    if (this.audio) this.write(this.audio, packet);
  }

  holdingVideo(): boolean {
    return !this.firstKeyframe.open;
  }

  markDiscontinuity(): void {
    this.video.discontinuity = true;
    if (this.audio) this.audio.discontinuity = true;
  }

  /** Queues one packet in the pacer; it leaves through `send`. */
  private write(outgoing: Outgoing, packet: Buffer): void {
    if (this.closed) return;
    const video = outgoing === this.video;
    const keyframeStart = video && startsKeyframe(packet);
    // Held back before the first keyframe: a new encoder's stream is still re-based on its first sent packet.
    if (video && !this.firstKeyframe.admit(keyframeStart, performance.now())) return;
    const discontinuity = outgoing.discontinuity;
    outgoing.discontinuity = false;
    this.paced.push({
      item: { outgoing, packet, discontinuity },
      sizeBytes: packet.length,
      kind: video ? "video" : "audio",
      keyframeStart,
    });
  }

  /**
   * Hands one packet to werift, which rewrites SSRC and payload type to the negotiated ones. After an
   * encoder restart the new stream's first packet re-bases sequence and timestamp on the last ones sent.
   */
  private send({ outgoing, packet, discontinuity }: PacedRtp): void {
    if (this.closed) return;
    if (discontinuity) outgoing.transceiver?.sender.replaceRTP(RtpPacket.deSerialize(packet).header, true);
    outgoing.track.writeRtp(this.feedback.stamp(outgoing.transceiver, packet));
  }

  network(): PublicationNetwork | undefined {
    const network = this.feedback.network();
    return network && { ...network, ice: this.iceStatus() };
  }

  /** ICE state and our side of the selected pair; a relay's transport is the TURN server's. */
  private iceStatus(): FeedIceStatus {
    const ice = this.video.transceiver?.dtlsTransport.iceTransport;
    const local = ice?.getSelectedCandidatePair()?.local.candidate;
    const connection = ice?.connection as { options?: { turnTransport?: string } } | undefined;
    const turn = connection?.options?.turnTransport;
    const turnTransport = turn === "tcp" || turn === "tls" || turn === "udp" ? turn : undefined;
    return iceStatus(this.pc.iceConnectionState, local, turnTransport);
  }

  /** The ICE servers the hub named in its 201 (used from the next ICE restart on). */
  get hubIceServers(): WhipSession["iceServers"] {
    return this.session?.iceServers ?? [];
  }

  /**
   * An ICE restart over WHIP (RFC 9725 §4.4), with the hub's STUN/TURN servers from its 201: a new
   * ufrag/pwd by PATCH, the hub's new ones into its answer, later candidates trickled. "unsupported"
   * when the hub has no PATCH for it (405/501/422): the caller then makes a new session (and closes
   * this one): unless the hub already refused a trickle PATCH, the local ICE has been restarted by
   * then and this peer cannot carry media any more. A failed restart throws; the hub keeps its session.
   */
  async restartIce(): Promise<IceRestartResult> {
    const session = this.session;
    if (!session || this.closed) throw new SpokeError("SPOKE_WEBRTC_FAILED", "no WHIP session to restart");
    // A hub known to have no PATCH at all: say so before the local ICE is touched.
    if (this.trickle.noPatch) return "unsupported";
    useIceServers(this.pc, iceConnectionServers(restartServers(this.configuredIce, session.iceServers)));
    this.trickle.reset();
    this.gathered = [];
    this.gatheringDone = false;
    await this.setLocalOffer(await this.pc.createOffer({ iceRestart: true }));
    const { ice, candidates, complete } = await this.firstCandidates();
    const outcome = await restartIce(session, buildSdpFrag(ice, candidates, { endOfCandidates: complete }));
    if (outcome.kind === "no-patch") return "unsupported";
    const remote = readRemoteIce(outcome.answerFrag);
    if (!remote) {
      throw new SpokeError("SPOKE_WHIP_BAD_ANSWER", "the hub's ICE restart answer has no ufrag and pwd");
    }
    session.answerSdp = applyRemoteIce(session.answerSdp, remote);
    await this.pc.setRemoteDescription({ type: "answer", sdp: session.answerSdp });
    runIceChecksAfterRestart(this.pc, (error) =>
      this.log.warn({ error: toSpokeError(error).toInfo() }, "ICE checks after the restart failed"),
    );
    this.trickle.sentInOffer(candidates, complete);
    this.trickle.open(session, ice);
    return "restarted";
  }

  /** The candidate pair carrying the media, once ICE nominated one (for tests and health). */
  get selectedPair(): SelectedCandidatePair | undefined {
    return selectedCandidatePair(this.pc);
  }

  /** The peer's connection and ICE states (for tests and health). */
  get connectionState(): string {
    return this.pc.connectionState;
  }

  get iceConnectionState(): string {
    return this.pc.iceConnectionState;
  }

  /** The trickle PATCHes queued so far have been answered. */
  trickleSettled(): Promise<void> {
    return this.trickle.settled();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.disarmHubTurnRestart();
    this.paced.close();
    this.feedback.close();
    try {
      await this.endHubSession();
    } finally {
      // Whatever happened at the hub, the local peer goes: its sockets and timers would outlive us.
      await this.pc.close();
    }
  }

  private async endHubSession(): Promise<void> {
    if (!this.session) return;
    await this.trickle.settled();
    const failure = await deleteSession(this.endpoint, this.session.resourceUrl);
    if (failure)
      this.log.warn({ error: failure.toInfo() }, "WHIP DELETE failed; the hub ends the session on its own");
  }

  private async applyAnswer(sdp: string): Promise<void> {
    const { audioRejected } = checkAnswerMedia(sdp, this.audio !== undefined);
    if (audioRejected) {
      this.log.warn({ error: audioRejected.toInfo() }, "publishing without sound");
      this.audio = undefined;
    }
    try {
      await this.pc.setRemoteDescription({ type: "answer", sdp });
    } catch (cause) {
      throw unusableAnswer(cause);
    }
  }

  /**
   * When the 201 named TURN servers the offer was not gathered with, ICE gets `hubTurnGraceMs` with
   * the offer's candidates; if it has not connected by then, ICE restarts at once with the hub's
   * servers, so a hub reachable only through its relay works from the first connection.
   */
  private armHubTurnRestart(session: WhipSession): void {
    if (turnServersNotOffered(this.configuredIce, session.iceServers).length === 0) return;
    this.hubTurnTimer = setTimeout(() => {
      this.hubTurnTimer = undefined;
      const iceState = this.pc.iceConnectionState;
      if (
        this.closed ||
        !shouldRestartForHubTurn({ offered: this.configuredIce, hub: session.iceServers, iceState })
      )
        return;
      this.log.info({ iceState }, "ICE not connected yet: restarting it with the hub's TURN servers");
      this.restartIce().then(
        (outcome) => {
          if (outcome === "unsupported")
            this.log.warn("the hub has no ICE restart: its TURN servers stay unused");
        },
        (error: unknown) =>
          this.log.warn(
            { error: toSpokeError(error).toInfo() },
            "ICE restart with the hub's TURN servers failed",
          ),
      );
    }, this.options.hubTurnGraceMs ?? hubTurnGraceMs(this.configuredIce));
  }

  private disarmHubTurnRestart(): void {
    clearTimeout(this.hubTurnTimer);
    this.hubTurnTimer = undefined;
  }

  private lost(state: string): void {
    if (this.closed) return;
    this.events.onConnectionLost(new SpokeError("SPOKE_WEBRTC_FAILED", `WebRTC connection ${state}`));
  }

  /**
   * Applies a local offer without waiting for werift's full gathering (its setLocalDescription only
   * returns once every STUN/TURN server answered or timed out): candidates are taken as they come.
   */
  private async setLocalOffer(offer: Parameters<RTCPeerConnection["setLocalDescription"]>[0]): Promise<void> {
    const applied = this.pc.setLocalDescription(offer);
    const offerSet = this.pc.signalingStateChange.watch((state) => state === "have-local-offer");
    await Promise.race([applied, offerSet]);
    applied.catch((error: unknown) => {
      this.log.warn({ error: toSpokeError(error).toInfo() }, "local offer failed");
    });
  }

  private onCandidate(candidate: string | undefined): void {
    // werift's relay policy gathers host candidates anyway while it has no TURN server (before the
    // hub's arrive): a hub that had them would check them, and the pair would not be a relay.
    if (candidate !== undefined && !candidateAllowed(candidate, this.options.iceTransportPolicy)) return;
    if (candidate === undefined) this.gatheringDone = true;
    else this.gathered.push(candidate);
    this.trickle.add(candidate);
  }

  /**
   * The candidates found so far, waiting at most FIRST_CANDIDATES_MS for gathering to finish (host
   * candidates only, it usually has by then).
   */
  private async firstCandidates(): Promise<{ ice: OfferIce; candidates: string[]; complete: boolean }> {
    const waitMs = this.options.firstCandidatesMs ?? FIRST_CANDIDATES_MS;
    if (!this.gatheringDone && waitMs > 0) {
      await this.pc.iceGatheringStateChange
        .watch((state) => state === "complete", waitMs)
        .catch(() => undefined);
      // The end-of-candidates event follows the state change in the same turn or the next.
      await new Promise((resolve) => setImmediate(resolve));
    }
    const ice = readOfferIce(this.pc.localDescription?.sdp ?? "");
    if (!ice) throw new SpokeError("SPOKE_INTERNAL", "the local offer has no ICE credentials");
    return { ice, candidates: [...this.gathered], complete: this.gatheringDone };
  }

  /** The offer as the POST carries it: with the candidates found so far; the trickle takes the rest. */
  private async offerWithCandidates(): Promise<{ sdp: string; ice: OfferIce }> {
    const { ice, candidates, complete } = await this.firstCandidates();
    this.trickle.sentInOffer(candidates, complete);
    return { sdp: withCandidates(this.pc.localDescription?.sdp ?? "", candidates, complete), ice };
  }

  private async connected(): Promise<void> {
    if (this.pc.connectionState === "connected") return;
    const outcome = await this.pc.connectionStateChange
      .watch((state) => state === "connected" || state === "failed" || state === "closed", CONNECT_TIMEOUT_MS)
      .catch(() => "timeout" as const);
    const state = Array.isArray(outcome) ? outcome[0] : outcome;
    if (state !== "connected") {
      throw new SpokeError("SPOKE_WEBRTC_FAILED", `WebRTC connection to the hub did not come up (${state})`);
    }
  }
}
