import type { Logger } from "pino";
import {
  MediaStreamTrack,
  RTCPeerConnection,
  RTCRtpCodecParameters,
  RtpPacket,
  useSdesMid,
  useTransportWideCC,
} from "werift";
import type { Publisher, PublisherEvents } from "../../app/ports.js";
import { SpokeError } from "../../core/errors.js";
import { feedLevel, type PlannedFeedSettings } from "../../core/feed-plan.js";
import { deleteSession, publishOffer, type WhipEndpoint } from "../whip/whip-client.js";
import { dropStunFallback } from "./host-only-ice.js";

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
 * Publishes one feed's encoded RTP over WebRTC with werift, signalled by WHIP. The packets from the
 * GStreamer worker are passed through untouched apart from SSRC, payload type and sequence rewriting.
 */
export class WeriftPublisher implements Publisher {
  private readonly pc: RTCPeerConnection;
  private readonly track = new MediaStreamTrack({ kind: "video" });
  private readonly endpoint: WhipEndpoint;
  private resourceUrl: string | undefined;
  private discontinuity = false;
  private closed = false;

  constructor(
    settings: PlannedFeedSettings,
    private readonly events: PublisherEvents,
    private readonly log: Logger,
  ) {
    const feed = settings.feed;
    this.endpoint = feed.whip.bearerToken
      ? { url: feed.whip.url, bearerToken: feed.whip.bearerToken }
      : { url: feed.whip.url };
    this.pc = new RTCPeerConnection({
      codecs: { video: [h264Codec(settings)], audio: [] },
      headerExtensions: { video: [useSdesMid(), useTransportWideCC()], audio: [] },
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
    const transceiver = this.pc.addTransceiver(this.track, { direction: "sendonly" });
    transceiver.sender.onPictureLossIndication.subscribe(() => this.events.onKeyframeRequest());
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
    this.pc.connectionStateChange.subscribe((state) => {
      if (state === "failed" || state === "closed") this.lost(state);
    });
  }

  writeRtp(packet: Buffer): void {
    if (this.closed) return;
    if (this.discontinuity) {
      this.discontinuity = false;
      const header = RtpPacket.deSerialize(packet).header;
      this.pc.getTransceivers()[0]?.sender.replaceRTP(header, true);
    }
    this.track.writeRtp(packet);
  }

  markDiscontinuity(): void {
    this.discontinuity = true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
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
