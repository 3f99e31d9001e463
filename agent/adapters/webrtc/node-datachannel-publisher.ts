import { randomInt } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import type { IceRestartResult, PublicationNetwork, Publisher, PublisherEvents } from "../../app/ports.js";
import {
  type CongestionController,
  compactNtp,
  createCongestionController,
  parseRtcpCompound,
} from "../../core/congestion/index.js";
import { SpokeError, toSpokeError } from "../../core/errors.js";
import { feedLevel, type PlannedFeedSettings } from "../../core/feed-plan.js";
import { checkAnswerMedia, unusableAnswer } from "../../core/whip/answer-media.js";
import { buildSdpFrag, candidateLine, type OfferIce, readOfferIce } from "../../core/whip/sdpfrag.js";
import {
  deleteSession,
  patchCandidates,
  publishOffer,
  type WhipEndpoint,
  type WhipSession,
} from "../whip/whip-client.js";
import { readRtpHead, rewriteRtp } from "./rtp-bytes.js";

/** node-datachannel's module: loaded on the first connect, so that nothing imports the native addon early. */
type Ndc = typeof import("node-datachannel");
type PeerConnection = InstanceType<Ndc["PeerConnection"]>;
type Track = ReturnType<PeerConnection["addTrack"]>;

const CONNECT_TIMEOUT_MS = 15_000;
/** As for werift: host candidates are gathered within a few ms; anything later is trickled by PATCH. */
const FIRST_CANDIDATES_MS = 50;
const VIDEO_PT = 96;
const AUDIO_PT = 111;
const TWCC_ID = 3;
const TWCC_URI = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
const CNAME = "spoke";

/** One sent stream: its track, the SSRC and payload type on the wire, and the re-basing offsets. */
interface Outgoing {
  track: Track;
  ssrc: number;
  payloadType: number;
  sequenceOffset: number;
  timestampOffset: number;
  last?: { sequence: number; timestamp: number };
  discontinuity: boolean;
}

/** A track's sending state before its first packet: nothing to rewrite yet. */
function newOutgoing(track: Track, ssrc: number, payloadType: number): Outgoing {
  return { track, ssrc, payloadType, sequenceOffset: 0, timestampOffset: 0, discontinuity: false };
}

/**
 * Publishes one feed's RTP with node-datachannel (libdatachannel, native) over WHIP: the bench's second
 * stack behind the same `Publisher` port as `WeriftPublisher`. The worker's packets go to the wire as
 * given, with SSRC, payload type, sequence and timestamp rewritten on the bytes and our own
 * transport-wide number added; libdatachannel adds SRTP, answers NACKs from its 512-packet history
 * (RtcpNackResponder) and sends SRs (RtcpSrReporter). Every RTCP packet reaches JavaScript: PLI and
 * FIR become keyframe requests, the rest feeds congestion control.
 *
 * What libdatachannel 0.24 cannot do, said through the port: no ICE restart (`restartIce()` answers
 * "unsupported": the caller makes a new session), and no TURN over TCP or TLS (not offered: the first
 * offer is host-only, as werift's).
 */
export class NodeDatachannelPublisher implements Publisher {
  private pc: PeerConnection | undefined;
  private video: Outgoing | undefined;
  private audio: Outgoing | undefined;
  private readonly endpoint: WhipEndpoint;
  private session: WhipSession | undefined;
  private closed = false;
  private connectedOnce = false;
  private controller: CongestionController;
  private transportSequence = 0;
  private transportWideId: number | undefined;
  private rttMs: number | undefined;
  private lossPercent: number | undefined;
  private readonly candidates: string[] = [];
  private gatheringDone = false;
  private trickle:
    | { session: WhipSession; ice: OfferIce; sending: Promise<void>; off: boolean; endSent: boolean }
    | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private armConnectTimeout: () => void = () => undefined;
  private readonly nowUs = () => Math.round(performance.now() * 1000);

  constructor(
    private readonly settings: PlannedFeedSettings,
    private readonly events: PublisherEvents,
    private readonly log: Logger,
  ) {
    const feed = settings.feed;
    this.endpoint = feed.whip.bearerToken
      ? { url: feed.whip.url, bearerToken: feed.whip.bearerToken }
      : { url: feed.whip.url };
    this.controller = this.newController(true);
  }

  async connect(): Promise<void> {
    const ndc = await loadNodeDatachannel();
    // Host candidates only, as with werift: the hub's answer brings its own, and no third party
    // (a public STUN server) hears of the session.
    const pc = new ndc.PeerConnection(`spoke-${this.settings.feed.id}`, { iceServers: [] });
    this.pc = pc;
    pc.onLocalCandidate((candidate) => this.onCandidate(candidate));
    pc.onGatheringStateChange((state) => {
      if (state === "complete") this.onCandidate(undefined);
    });
    const up = this.connectionUp(pc);
    this.video = this.addVideo(ndc, pc);
    if (this.settings.feed.audio) this.audio = this.addAudio(ndc, pc);
    pc.setLocalDescription();
    await this.firstCandidates();
    const offer = pc.localDescription()?.sdp ?? "";
    const ice = readOfferIce(offer);
    if (!ice) throw new SpokeError("SPOKE_INTERNAL", "the local offer has no ICE credentials");
    const session = await publishOffer(this.endpoint, offer);
    this.session = session;
    if (this.closed) {
      await deleteSession(this.endpoint, session.resourceUrl);
      throw new SpokeError("SPOKE_WEBRTC_FAILED", "publication closed while connecting");
    }
    this.applyAnswer(pc, session.answerSdp);
    this.startTrickle(session, ice, offer);
    this.armConnectTimeout();
    await up;
    this.connectedOnce = true;
  }

  writeRtp(packet: Buffer): void {
    if (this.video) this.send(this.video, packet);
  }

  writeAudioRtp(packet: Buffer): void {
    if (this.audio) this.send(this.audio, packet);
  }

  markDiscontinuity(): void {
    if (this.video) this.video.discontinuity = true;
    if (this.audio) this.audio.discontinuity = true;
  }

  /** libjuice rejects a changed remote ufrag (libdatachannel #545): a new session is the way. */
  async restartIce(): Promise<IceRestartResult> {
    return "unsupported";
  }

  network(): PublicationNetwork | undefined {
    if (!this.connectedOnce) return undefined;
    const state = this.controller.state(this.nowUs());
    const network: PublicationNetwork = { estimateKbps: Math.round(state.targetKbps) };
    if (state.sentKbps !== undefined) network.sentKbps = Math.round(state.sentKbps);
    if (this.rttMs !== undefined) network.rttMs = this.rttMs;
    if (this.lossPercent !== undefined) network.lossPercent = this.lossPercent;
    return network;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.connectTimer);
    try {
      if (this.session) {
        await this.trickle?.sending;
        const failure = await deleteSession(this.endpoint, this.session.resourceUrl);
        if (failure)
          this.log.warn(
            { error: failure.toInfo() },
            "WHIP DELETE failed; the hub ends the session on its own",
          );
      }
    } finally {
      this.video?.track.close();
      this.audio?.track.close();
      this.pc?.close();
    }
  }

  /** The packet on the wire: re-based after an encoder restart, rewritten, stamped, sent at once. */
  private send(outgoing: Outgoing, packet: Buffer): void {
    if (this.closed || !outgoing.track.isOpen()) return;
    const head = readRtpHead(packet);
    if (outgoing.discontinuity) {
      outgoing.discontinuity = false;
      if (outgoing.last) {
        outgoing.sequenceOffset = (outgoing.last.sequence + 1 - head.sequence) & 0xffff;
        outgoing.timestampOffset = (outgoing.last.timestamp + 1 - head.timestamp) >>> 0;
      }
    }
    const sequence = (head.sequence + outgoing.sequenceOffset) & 0xffff;
    const timestamp = (head.timestamp + outgoing.timestampOffset) >>> 0;
    outgoing.last = { sequence, timestamp };
    const id = this.transportWideId;
    if (id !== undefined) this.transportSequence = (this.transportSequence + 1) & 0xffff;
    const bytes = rewriteRtp(packet, {
      ssrc: outgoing.ssrc,
      payloadType: outgoing.payloadType,
      sequence,
      timestamp,
      ...(id !== undefined && { transportWide: { id, sequence: this.transportSequence } }),
    });
    const sendTimeUs = this.nowUs();
    try {
      outgoing.track.sendMessageBinary(bytes);
    } catch (error) {
      this.log.debug({ error: toSpokeError(error).toInfo() }, "RTP send failed");
      return;
    }
    if (id !== undefined) {
      // What the link carries: the packet and the SRTP tag.
      this.controller.onPacketSent({
        sequence: this.transportSequence,
        sendTimeUs,
        sizeBytes: bytes.length + 10,
      });
    }
  }

  private addVideo(ndc: Ndc, pc: PeerConnection): Outgoing {
    const ssrc = randomSsrc();
    const video = new ndc.Video("0", "SendOnly");
    const level = feedLevel(this.settings).profileLevelId;
    // addH264Codec adds nack, nack pli and goog-remb feedback; transport-cc and its extension are ours.
    video.addH264Codec(VIDEO_PT, `level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=${level}`);
    video.parseSdpLine(`a=rtcp-fb:${VIDEO_PT} transport-cc`);
    video.parseSdpLine(`a=extmap:${TWCC_ID} ${TWCC_URI}`);
    video.addSSRC(ssrc, CNAME, CNAME, `${this.settings.feed.id}-video`);
    const track = pc.addTrack(video);
    const sr = new ndc.RtcpSrReporter(new ndc.RtpPacketizationConfig(ssrc, CNAME, VIDEO_PT, 90_000));
    sr.addToChain(new ndc.RtcpNackResponder());
    track.setMediaHandler(sr);
    this.watchTrack(track, ssrc, true);
    return newOutgoing(track, ssrc, VIDEO_PT);
  }

  private addAudio(ndc: Ndc, pc: PeerConnection): Outgoing {
    const ssrc = randomSsrc();
    const audio = new ndc.Audio("1", "SendOnly");
    audio.addOpusCodec(AUDIO_PT, "minptime=10;useinbandfec=1");
    audio.parseSdpLine(`a=rtcp-fb:${AUDIO_PT} transport-cc`);
    audio.parseSdpLine(`a=extmap:${TWCC_ID} ${TWCC_URI}`);
    audio.addSSRC(ssrc, CNAME, CNAME, `${this.settings.feed.id}-audio`);
    const track = pc.addTrack(audio);
    track.setMediaHandler(
      new ndc.RtcpSrReporter(new ndc.RtpPacketizationConfig(ssrc, CNAME, AUDIO_PT, 48_000)),
    );
    this.watchTrack(track, ssrc, false);
    return newOutgoing(track, ssrc, AUDIO_PT);
  }

  /**
   * RTCP in, and the closed callback: without an onMessage callback RTCP piles up in the track, and
   * without onClosed the addon keeps the event loop alive after close.
   */
  private watchTrack(track: Track, ssrc: number, isVideo: boolean): void {
    track.onMessage((message) => this.onRtcp(message, ssrc, isVideo));
    track.onClosed(() => undefined);
    track.onError((error) => this.log.debug({ error }, "track error"));
  }

  private onRtcp(bytes: Buffer, ssrc: number, isVideo: boolean): void {
    const parsed = parseRtcpCompound(bytes);
    if (!parsed.ok) return;
    const now = this.nowUs();
    for (const message of parsed.value) {
      if (message.kind === "transport-feedback") this.controller.onTransportFeedback(message.feedback, now);
      else if (message.kind === "remb") this.controller.onRemb(message.remb.bitrateBps, now);
      else if (message.kind === "receiver-report") {
        for (const block of message.report.blocks) {
          if (block.ssrc !== ssrc || !isVideo) continue;
          this.lossPercent = Math.round(block.fractionLost * 1000) / 10;
          this.controller.onReceiverReport(block, now, compactNtp(Date.now() * 1000));
          const rttUs = this.controller.state(now).rttUs;
          if (rttUs !== undefined) this.rttMs = Math.round(rttUs / 1000);
        }
      } else if (isVideo && (message.kind === "pli" || message.kind === "fir")) {
        this.events.onKeyframeRequest();
      }
    }
  }

  private applyAnswer(pc: PeerConnection, sdp: string): void {
    const { audioRejected } = checkAnswerMedia(sdp, this.audio !== undefined);
    if (audioRejected) {
      this.log.warn({ error: audioRejected.toInfo() }, "publishing without sound");
      this.audio = undefined;
    }
    const agreed = new RegExp(`^a=extmap:(\\d+)(?:/\\w+)? ${TWCC_URI.replace(/[.]/g, "\\.")}`, "m").exec(sdp);
    this.transportWideId = agreed ? Number(agreed[1]) : undefined;
    const feedback = new RegExp(`^a=rtcp-fb:${VIDEO_PT} transport-cc`, "m").test(sdp);
    this.controller = this.newController(feedback && agreed !== null);
    try {
      pc.setRemoteDescription(sdp, "answer");
    } catch (cause) {
      throw unusableAnswer(cause);
    }
  }

  private newController(transportFeedback: boolean): CongestionController {
    const { minBitrateKbps, maxBitrateKbps } = this.settings.profile.policy;
    return createCongestionController({
      minKbps: minBitrateKbps,
      maxKbps: maxBitrateKbps,
      transportFeedback,
    });
  }

  /**
   * Resolves once the peer is connected; rejects on failure or CONNECT_TIMEOUT_MS after the answer.
   * Its timer is cleared by close(), and a rejection nobody awaits (the POST failed first) is not left
   * unhandled.
   */
  private connectionUp(pc: PeerConnection): Promise<void> {
    const up = new Promise<void>((resolve, reject) => {
      // As with werift, the wait counts from the hub's answer, not from before the POST.
      this.armConnectTimeout = () => {
        this.connectTimer = setTimeout(() => {
          reject(
            new SpokeError("SPOKE_WEBRTC_FAILED", "WebRTC connection to the hub did not come up (timeout)"),
          );
        }, CONNECT_TIMEOUT_MS);
      };
      pc.onStateChange((state) => {
        if (state === "connected") {
          clearTimeout(this.connectTimer);
          resolve();
        } else if (state === "failed" || state === "closed") {
          clearTimeout(this.connectTimer);
          if (this.connectedOnce) this.lost(state);
          else
            reject(
              new SpokeError(
                "SPOKE_WEBRTC_FAILED",
                `WebRTC connection to the hub did not come up (${state})`,
              ),
            );
        }
      });
    });
    up.catch(() => undefined);
    return up;
  }

  private lost(state: string): void {
    if (this.closed) return;
    this.events.onConnectionLost(new SpokeError("SPOKE_WEBRTC_FAILED", `WebRTC connection ${state}`));
  }

  private onCandidate(candidate: string | undefined): void {
    if (candidate === undefined) this.gatheringDone = true;
    else this.candidates.push(candidate);
    if (this.trickle) this.flushTrickle();
  }

  private async firstCandidates(): Promise<void> {
    const deadline = Date.now() + FIRST_CANDIDATES_MS;
    while (!this.gatheringDone && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 5));
  }

  /**
   * Candidates found after the offer was read go to the hub by PATCH (RFC 9725 §4.3.1): those before
   * the 201 in one, later ones as they come, and the end of candidates if the offer did not say it.
   */
  private startTrickle(session: WhipSession, ice: OfferIce, offer: string): void {
    const inOffer = new Set(offer.split(/\r?\n/).filter((line) => line.startsWith("a=candidate:")));
    const pending = this.candidates.filter((candidate) => !inOffer.has(candidateLine(candidate)));
    this.candidates.length = 0;
    this.candidates.push(...pending);
    this.trickle = {
      session,
      ice,
      sending: Promise.resolve(),
      off: false,
      endSent: /^a=end-of-candidates/m.test(offer),
    };
    this.flushTrickle();
  }

  private flushTrickle(): void {
    const trickle = this.trickle;
    if (!trickle || trickle.off) return;
    const end = this.gatheringDone && !trickle.endSent;
    if (this.candidates.length === 0 && !end) return;
    const body = buildSdpFrag(trickle.ice, this.candidates.splice(0), { endOfCandidates: end });
    if (end) trickle.endSent = true;
    trickle.sending = trickle.sending.then(async () => {
      if (trickle.off) return;
      try {
        if ((await patchCandidates(trickle.session, body)) !== "sent") trickle.off = true;
      } catch (error) {
        this.log.warn({ error: toSpokeError(error).toInfo() }, "WHIP trickle PATCH failed");
      }
    });
  }
}

function randomSsrc(): number {
  return randomInt(1, 0xffffffff);
}

/** The addon, loaded when first needed: a box without its prebuilt binary fails here, with a clear error. */
async function loadNodeDatachannel(): Promise<Ndc> {
  try {
    return await import("node-datachannel");
  } catch (cause) {
    throw new SpokeError(
      "SPOKE_WEBRTC_FAILED",
      `node-datachannel is not installed for this platform (${process.platform}-${process.arch})`,
      { cause },
    );
  }
}
