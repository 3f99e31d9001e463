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
import type { PublicationNetwork, Publisher, PublisherEvents } from "../../app/ports.js";
import { SpokeError } from "../../core/errors.js";
import { feedLevel, type PlannedFeedSettings } from "../../core/feed-plan.js";
import { deleteSession, publishOffer, type WhipEndpoint } from "../whip/whip-client.js";
import { dropStunFallback } from "./host-only-ice.js";
import { TransportFeedbackLoop } from "./transport-feedback-loop.js";

const CONNECT_TIMEOUT_MS = 15_000;

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
  private resourceUrl: string | undefined;
  private closed = false;
  /** Congestion control's view of this publication: its estimate and the network figures for health. */
  readonly feedback: TransportFeedbackLoop;

  constructor(
    settings: PlannedFeedSettings,
    private readonly events: PublisherEvents,
    private readonly log: Logger,
  ) {
    const feed = settings.feed;
    this.endpoint = feed.whip.bearerToken
      ? { url: feed.whip.url, bearerToken: feed.whip.bearerToken }
      : { url: feed.whip.url };
    const { minBitrateKbps, maxBitrateKbps } = settings.profile.policy;
    this.feedback = new TransportFeedbackLoop({ minKbps: minBitrateKbps, maxKbps: maxBitrateKbps });
    if (feed.audio) this.audio = { track: new MediaStreamTrack({ kind: "audio" }), discontinuity: false };
    this.pc = new RTCPeerConnection({
      codecs: { video: [h264Codec(settings)], audio: this.audio ? [opusCodec()] : [] },
      headerExtensions: {
        video: [useSdesMid(), useTransportWideCC()],
        audio: this.audio ? [useSdesMid(), useTransportWideCC()] : [],
      },
      // Lets a hub on the same box (the dev hub, tests) reach us over loopback.
      iceAdditionalHostAddresses: ["127.0.0.1"],
      // Host candidates only. werift's default, Google's public STUN server, would be contacted at every
      // session start: a third party the hospital's network should not see, and on an isolated network a
      // wait for its timeout. The hub's answer carries its own candidates, which is what we need to reach
      // it. (ICE servers offered in the WHIP Link header are future work.) See also dropStunFallback.
      iceServers: [],
    });
  }

  async connect(): Promise<void> {
    const transceiver = this.pc.addTransceiver(this.video.track, { direction: "sendonly" });
    this.video.transceiver = transceiver;
    transceiver.sender.onPictureLossIndication.subscribe(() => this.events.onKeyframeRequest());
    if (this.audio) {
      this.audio.transceiver = this.pc.addTransceiver(this.audio.track, { direction: "sendonly" });
    }
    dropStunFallback(this.pc);
    await this.pc.setLocalDescription(await this.pc.createOffer());
    await this.gatheringComplete();
    const offer = this.pc.localDescription?.sdp ?? "";
    const session = await publishOffer(this.endpoint, offer);
    this.resourceUrl = session.resourceUrl;
    if (this.closed) {
      // Closed while the offer was in flight: end the hub's session too, or it lingers there.
      await deleteSession(this.endpoint, session.resourceUrl);
      throw new SpokeError("SPOKE_WEBRTC_FAILED", "publication closed while connecting");
    }
    await this.applyAnswer(session.answerSdp);
    await this.connected();
    this.feedback.attach(transceiver, this.audio?.transceiver);
    this.pc.connectionStateChange.subscribe((state) => {
      if (state === "failed" || state === "closed") this.lost(state);
    });
  }

  writeRtp(packet: Buffer): void {
    this.write(this.video, packet);
  }

  writeAudioRtp(packet: Buffer): void {
    if (this.audio) this.write(this.audio, packet);
  }

  markDiscontinuity(): void {
    this.video.discontinuity = true;
    if (this.audio) this.audio.discontinuity = true;
  }

  /**
   * Hands one packet to werift, which rewrites SSRC and payload type to the negotiated ones. After an
   * encoder restart the new stream's first packet re-bases sequence and timestamp on the last ones sent.
   */
  private write(outgoing: Outgoing, packet: Buffer): void {
    if (this.closed) return;
    if (outgoing.discontinuity) {
      outgoing.discontinuity = false;
      outgoing.transceiver?.sender.replaceRTP(RtpPacket.deSerialize(packet).header, true);
    }
    outgoing.track.writeRtp(this.feedback.stamp(outgoing.transceiver, packet));
  }

  network(): PublicationNetwork | undefined {
    return this.feedback.network();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.feedback.close();
    try {
      await this.endHubSession();
    } finally {
      // Whatever happened at the hub, the local peer goes: its sockets and timers would outlive us.
      await this.pc.close();
    }
  }

  private async endHubSession(): Promise<void> {
    if (!this.resourceUrl) return;
    const failure = await deleteSession(this.endpoint, this.resourceUrl);
    if (failure)
      this.log.warn({ error: failure.toInfo() }, "WHIP DELETE failed; the hub ends the session on its own");
  }

  private async applyAnswer(sdp: string): Promise<void> {
    // werift accepts almost any answer and only fails later at ICE: check that the hub took our video
    // (a rejected media section has port 0), so the error says what is wrong.
    if (!/^m=video [1-9]/m.test(sdp)) {
      throw new SpokeError(
        "SPOKE_WHIP_BAD_ANSWER",
        "the hub's SDP answer accepts no video (no H.264 at the hub?)",
      );
    }
    if (this.audio && !/^m=audio [1-9]/m.test(sdp)) {
      // A hub without Opus (or one that takes video only) still gets the picture.
      const rejected = new SpokeError(
        "SPOKE_WHIP_AUDIO_REJECTED",
        "the hub's SDP answer rejects the audio (no Opus at the hub?): publishing video only",
      );
      this.log.warn({ error: rejected.toInfo() }, "publishing without sound");
      this.audio = undefined;
    }
    try {
      await this.pc.setRemoteDescription({ type: "answer", sdp });
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new SpokeError("SPOKE_WHIP_BAD_ANSWER", `the hub's SDP answer cannot be used: ${reason}`, {
        cause,
      });
    }
  }

  private lost(state: string): void {
    if (this.closed) return;
    this.events.onConnectionLost(new SpokeError("SPOKE_WEBRTC_FAILED", `WebRTC connection ${state}`));
  }

  private async gatheringComplete(): Promise<void> {
    if (this.pc.iceGatheringState === "complete") return;
    await this.pc.iceGatheringStateChange.watch((state) => state === "complete");
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
