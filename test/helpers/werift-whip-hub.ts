import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  RTCPeerConnection,
  RTCRtpCodecParameters,
  type RTCRtpTransceiver,
  type RtpPacket,
  useSdesMid,
  useTransportWideCC,
} from "werift";
import { dropStunFallback } from "../../agent/adapters/webrtc/host-only-ice.js";
import { runIceChecksAfterRestart } from "../../agent/adapters/webrtc/ice-restart-checks.js";
import { readBody } from "../../devhub/http.js";
import { writeFir } from "./rtcp-writers.js";

export interface HubSession {
  id: string;
  pc: RTCPeerConnection;
  /** Video packets received. */
  packets: number;
  audioPackets: number;
  deleted: boolean;
  /** The offer the hub's peer answered last (updated by ICE restarts). */
  offer: string;
  /** Candidates received by trickle PATCH. */
  trickled: string[];
  restarts: number;
  etag?: string;
  /** Asks the publisher for a keyframe, as a decoder that lost the picture does (RTCP PLI). */
  requestKeyframe(): Promise<void>;
  /** Asks for a keyframe by FIR (RFC 5104), as some SFUs do; each call a new request number. */
  sendFir(): Promise<void>;
  /** With `dropRtpPercent`: video packets dropped on their first arrival, and those that came again. */
  dropped: number;
  recovered: number;
}

export interface WhipHubOptions {
  token?: string;
  /** Answer every POST with this status instead (to test hub errors). */
  failWith?: { status: number; body: string };
  /** Answer every POST with 201 and this SDP instead of a real answer (to test broken hubs). */
  answerWith?: string;
  /** Each video packet received. */
  onRtp?: (packet: RtpPacket) => void;
  /** Each audio packet received. */
  onAudioRtp?: (packet: RtpPacket) => void;
  /** Take no audio: the answer rejects an offered audio section (port 0), as a video-only hub does. */
  rejectAudio?: boolean;
  /**
   * ETags as RFC 9725 §4.3 has them: the 201 carries one, a trickle PATCH needs it in `If-Match`
   * (428 without, 412 with a stale one), an ICE restart needs `If-Match: *` and gets a new one.
   */
  strictEtags?: boolean;
  /** A hub without PATCH: every PATCH answered with this status (gst's whipserversrc: 501). */
  noPatch?: 405 | 501;
  /** The endpoint answers POST with a 307 to this path (relative), where the real endpoint is. */
  redirectTo?: string;
  /** The first `times` POSTs get `status` with `Retry-After: retryAfter`, then POSTs succeed. */
  unavailable?: { times: number; status: number; retryAfter?: string };
  /** `Link` header values added to the 201 (ICE servers, extensions). */
  links?: string[];
  /** The address the hub listens on and names in its endpoint; 127.0.0.1 by default. */
  host?: string;
  /**
   * A lossy link: this share of video packets (0–100, spread evenly) is dropped on its first arrival,
   * before werift's receiver sees it, so its NACKs ask for them again and a resend gets through.
   */
  dropRtpPercent?: number;
  /** The port to listen on (a restarted hub takes its old one); a free one by default. */
  port?: number;
}

export interface HubPatch {
  ifMatch?: string;
  contentType?: string;
  body: string;
  status: number;
}

/**
 * A WHIP endpoint backed by a werift receiving peer: the hub side of the integration tests. It speaks
 * RFC 9725 as far as the agent needs (POST → 201 + Location, DELETE) and checks the Bearer token. It
 * takes H.264 video and Opus audio.
 */
export class WeriftWhipHub {
  readonly sessions = new Map<string, HubSession>();
  readonly requests: { method: string; url: string; authorization?: string }[] = [];
  /** The SDP offers the hub answered with its own peer, in order. */
  readonly offers: string[] = [];
  /** Every PATCH, with what the hub answered. */
  readonly patches: HubPatch[] = [];
  private unavailableLeft: number;
  private server: Server | undefined;

  constructor(private readonly options: WhipHubOptions = {}) {
    this.unavailableLeft = options.unavailable?.times ?? 0;
  }

  get endpoint(): string {
    const port = (this.server?.address() as AddressInfo | undefined)?.port;
    return `http://${this.options.host ?? "127.0.0.1"}:${port}/whip/room`;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        res.writeHead(500).end(String(error));
      });
    });
    this.server = server;
    await new Promise<void>((resolve) =>
      server.listen(this.options.port ?? 0, this.options.host ?? "127.0.0.1", resolve),
    );
  }

  get port(): number {
    return (this.server?.address() as AddressInfo | undefined)?.port ?? 0;
  }

  /** Sessions the hub still holds: made and neither DELETEd nor killed. */
  get openSessions(): HubSession[] {
    return [...this.sessions.values()].filter((session) => !session.deleted);
  }

  /**
   * The hub dies: every peer closed without a word to the clients, open HTTP connections cut, the port
   * freed. Its sessions are forgotten, as a restarted process forgets them.
   */
  async kill(): Promise<void> {
    for (const session of this.sessions.values()) {
      session.deleted = true;
      await session.pc.close();
    }
    const server = this.server;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  async stop(): Promise<void> {
    for (const session of this.sessions.values()) await session.pc.close();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const record: { method: string; url: string; authorization?: string } = {
      method: req.method ?? "",
      url: req.url ?? "",
    };
    if (req.headers.authorization) record.authorization = req.headers.authorization;
    this.requests.push(record);
    if (this.options.token && req.headers.authorization !== `Bearer ${this.options.token}`) {
      res.writeHead(401, { "content-type": "text/plain" }).end("missing or wrong bearer token");
      return;
    }
    if (req.method === "POST" && req.url === "/whip/room" && this.options.redirectTo) {
      res.writeHead(307, { location: this.options.redirectTo }).end();
      return;
    }
    const postPath = this.options.redirectTo
      ? new URL(this.options.redirectTo, "http://hub/whip/room").pathname
      : "/whip/room";
    if (req.method === "POST" && req.url === postPath) return this.post(req, res);
    const session = this.sessions.get(req.url?.split("/").pop() ?? "");
    if (req.method === "PATCH" && session) return this.patch(req, res, session);
    if (req.method === "DELETE" && session) {
      session.deleted = true;
      await session.pc.close();
      res.writeHead(200).end();
      return;
    }
    res.writeHead(404).end();
  }

  private async patch(req: IncomingMessage, res: ServerResponse, session: HubSession): Promise<void> {
    const body = await readBody(req);
    const ifMatch = req.headers["if-match"];
    const record: HubPatch = { body, status: 0 };
    if (ifMatch) record.ifMatch = ifMatch;
    if (req.headers["content-type"]) record.contentType = req.headers["content-type"];
    this.patches.push(record);
    const answer = (status: number, headers: Record<string, string> = {}, text = "") => {
      record.status = status;
      res.writeHead(status, headers).end(text);
    };
    if (this.options.noPatch)
      return answer(this.options.noPatch, { "content-type": "text/plain" }, "no PATCH here");
    if (req.headers["content-type"] !== "application/trickle-ice-sdpfrag") return answer(415);
    if (ifMatch === "*") {
      const fragment = await this.restartIce(session, body);
      session.etag = `"${randomUUID()}"`;
      return answer(200, { "content-type": "application/trickle-ice-sdpfrag", etag: session.etag }, fragment);
    }
    if (this.options.strictEtags) {
      if (!ifMatch) return answer(428, {}, "If-Match required");
      if (ifMatch !== session.etag) return answer(412, {}, "stale ETag");
    }
    for (const line of body.split(/\r?\n/)) {
      if (line.startsWith("a=candidate:")) {
        session.trickled.push(line.slice(2));
        await session.pc.addIceCandidate({ candidate: line.slice(2), sdpMid: "0", sdpMLineIndex: 0 });
      }
    }
    return answer(204);
  }

  /**
   * The hub side of an ICE restart: the offer it answered, with the client's new ufrag/pwd (and
   * candidates), answered again by its peer; what goes back is its own new ufrag, pwd and candidates.
   */
  private async restartIce(session: HubSession, fragment: string): Promise<string> {
    const ufrag = /^a=ice-ufrag:(\S+)/m.exec(fragment)?.[1] ?? "";
    const pwd = /^a=ice-pwd:(\S+)/m.exec(fragment)?.[1] ?? "";
    const candidates = fragment.split(/\r?\n/).filter((line) => line.startsWith("a=candidate:"));
    const offer = session.offer
      .split("\r\n")
      .filter((line) => !line.startsWith("a=candidate:") && line !== "a=end-of-candidates")
      .map((line) =>
        line.startsWith("a=ice-ufrag:")
          ? `a=ice-ufrag:${ufrag}`
          : line.startsWith("a=ice-pwd:")
            ? `a=ice-pwd:${pwd}`
            : line,
      )
      .flatMap((line) => (line.startsWith("a=mid:") ? [line, ...candidates] : [line]))
      .join("\r\n");
    session.offer = offer;
    session.restarts += 1;
    await session.pc.setRemoteDescription({ type: "offer", sdp: offer });
    await session.pc.setLocalDescription(await session.pc.createAnswer());
    // A werift hub needs the same help as the publisher for its checks to run after a restart.
    runIceChecksAfterRestart(session.pc, () => undefined);
    if (session.pc.iceGatheringState !== "complete") {
      await session.pc.iceGatheringStateChange.watch((s) => s === "complete", 2000).catch(() => undefined);
    }
    const answer = session.pc.localDescription?.sdp ?? "";
    const lines = answer.split("\r\n");
    const pick = (prefix: string) => lines.find((line) => line.startsWith(prefix)) ?? "";
    const firstMedia = lines.find((line) => line.startsWith("m=")) ?? "";
    const firstMid = pick("a=mid:");
    const hubCandidates = [...new Set(lines.filter((line) => line.startsWith("a=candidate:")))];
    return [
      pick("a=ice-ufrag:"),
      pick("a=ice-pwd:"),
      firstMedia,
      firstMid,
      ...hubCandidates,
      "a=end-of-candidates",
      "",
    ].join("\r\n");
  }

  private async post(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.unavailableLeft > 0) {
      this.unavailableLeft -= 1;
      const { status, retryAfter } = this.options.unavailable ?? { status: 503 };
      const headers: Record<string, string> = { "content-type": "text/plain" };
      if (retryAfter) headers["retry-after"] = retryAfter;
      res.writeHead(status, headers).end("hub starting up, try again shortly");
      return;
    }
    if (this.options.failWith) {
      res
        .writeHead(this.options.failWith.status, { "content-type": "text/plain" })
        .end(this.options.failWith.body);
      return;
    }
    if (this.options.answerWith !== undefined) {
      res.writeHead(201, { "content-type": "application/sdp", location: "/whip/room/sessions/x" });
      res.end(this.options.answerWith);
      return;
    }
    const offer = await readBody(req);
    this.offers.push(offer);
    const pc = new RTCPeerConnection({
      codecs: {
        video: [
          new RTCRtpCodecParameters({
            mimeType: "video/H264",
            clockRate: 90000,
            rtcpFeedback: [{ type: "nack" }, { type: "nack", parameter: "pli" }, { type: "transport-cc" }],
            parameters: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
          }),
        ],
        audio: [
          new RTCRtpCodecParameters({
            mimeType: "audio/opus",
            clockRate: 48000,
            channels: 2,
            rtcpFeedback: [{ type: "transport-cc" }],
            parameters: "minptime=10;useinbandfec=1",
          }),
        ],
      },
      headerExtensions: {
        video: [useSdesMid(), useTransportWideCC()],
        audio: [useSdesMid(), useTransportWideCC()],
      },
      iceAdditionalHostAddresses: ["127.0.0.1"],
      // Hub and agent share the box: host candidates do, and tests contact no STUN server on the internet.
      iceServers: [],
    });
    let mediaSsrc = 0;
    let sendPli: (ssrc: number) => Promise<void> = async () => undefined;
    const session: HubSession = {
      id: randomUUID(),
      pc,
      packets: 0,
      audioPackets: 0,
      deleted: false,
      offer,
      trickled: [],
      restarts: 0,
      requestKeyframe: () => sendPli(mediaSsrc),
      sendFir: () => sendFir(mediaSsrc),
      dropped: 0,
      recovered: 0,
    };
    let firSequence = 0;
    let sendFir: (ssrc: number) => Promise<void> = async () => undefined;
    this.sessions.set(session.id, session);
    pc.onTransceiverAdded.subscribe((transceiver) => {
      if (transceiver.kind === "audio") {
        transceiver.onTrack.subscribe((track) => {
          track.onReceiveRtp.subscribe((rtp) => {
            session.audioPackets += 1;
            this.options.onAudioRtp?.(rtp);
          });
        });
        return;
      }
      sendPli = (ssrc) => transceiver.receiver.sendRtcpPLI(ssrc);
      sendFir = async (ssrc) => {
        firSequence = (firSequence + 1) & 0xff;
        const fir = Buffer.from(writeFir(1, [{ ssrc, sequence: firSequence }]));
        await transceiver.receiver.dtlsTransport.sendRtcp([{ serialize: () => fir } as never]);
      };
      if (this.options.dropRtpPercent) dropOnFirstArrival(transceiver, this.options.dropRtpPercent, session);
      transceiver.onTrack.subscribe((track) => {
        track.onReceiveRtp.subscribe((rtp) => {
          mediaSsrc = rtp.header.ssrc;
          session.packets += 1;
          this.options.onRtp?.(rtp);
        });
      });
    });
    await pc.setRemoteDescription({ type: "offer", sdp: offer });
    dropStunFallback(pc);
    await pc.setLocalDescription(await pc.createAnswer());
    if (pc.iceGatheringState !== "complete") await pc.iceGatheringStateChange.watch((s) => s === "complete");
    const answer = pc.localDescription?.sdp ?? "";
    const headers: Record<string, string | string[]> = {
      "content-type": "application/sdp",
      // Relative to where the POST landed, as hubs behind a redirect send it.
      location: `sessions/${session.id}`,
    };
    if (this.options.strictEtags) {
      session.etag = `"${randomUUID()}"`;
      headers.etag = session.etag;
    }
    if (this.options.links) headers.link = this.options.links;
    res.writeHead(201, headers).end(this.options.rejectAudio ? rejectAudioSection(answer) : answer);
  }
}

/**
 * The answer of a hub that takes no audio (werift itself cannot reject a section): the audio section's
 * port set to 0 and the section taken out of the BUNDLE group (RFC 8843 §7.3.3).
 */
function rejectAudioSection(sdp: string): string {
  const sections = sdp.split(/\r\n(?=m=)/);
  const audio = sections.find((section) => section.startsWith("m=audio "));
  const mid = audio ? /\r\na=mid:(\S+)/.exec(audio)?.[1] : undefined;
  return sections
    .map((section) => {
      if (section === audio) return section.replace(/^m=audio \d+/, "m=audio 0");
      if (mid === undefined) return section;
      return section.replace(/^(a=group:BUNDLE.*)$/m, (group) => group.replace(` ${mid}`, ""));
    })
    .join("\r\n");
}

/**
 * Drops `percent` of the video packets on their first arrival, before werift's receiver (its NACK
 * generator and the track) sees them; a sequence number seen again is a resend and passes.
 */
function dropOnFirstArrival(
  transceiver: RTCRtpTransceiver,
  percent: number,
  counts: { dropped: number; recovered: number },
): void {
  const receiver = transceiver.receiver as unknown as {
    handleRtpBySsrc: (packet: RtpPacket, extensions: unknown) => void;
  };
  const handle = receiver.handleRtpBySsrc;
  let highest: number | undefined;
  const droppedSequences = new Set<number>();
  let arrivals = 0;
  receiver.handleRtpBySsrc = (packet, extensions) => {
    const sequence = packet.header.sequenceNumber;
    // Newer than any before (16-bit, wrapping): a first arrival; older: a resend or reordered.
    const ahead = highest === undefined ? 1 : (sequence - highest) & 0xffff;
    const isNew = ahead > 0 && ahead < 0x8000;
    if (droppedSequences.delete(sequence)) counts.recovered += 1;
    else if (isNew) {
      highest = sequence;
      arrivals += 1;
      // Evenly spread: the n-th packet is dropped when the running share crosses a whole packet.
      if (Math.floor((arrivals * percent) / 100) > Math.floor(((arrivals - 1) * percent) / 100)) {
        counts.dropped += 1;
        droppedSequences.add(sequence);
        return;
      }
    }
    handle(packet, extensions);
  };
}
