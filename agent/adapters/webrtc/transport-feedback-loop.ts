import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import { type RTCRtpTransceiver, RTP_EXTENSION_URI, RtpPacket, serializeTransportWideCC } from "werift";
import type { PublicationNetwork } from "../../app/ports.js";
import {
  type CongestionController,
  type CongestionState,
  compactNtp,
  createCongestionController,
  createFirFilter,
  parseRtcpCompound,
  type RtcpMessage,
} from "../../core/congestion/index.js";

/**
 * The adapter half of congestion control for one publication (one peer connection, one feed): every
 * outgoing RTP packet gets our own transport-wide sequence number, and its send time and size go into
 * the controller's send-time log; the hub's RTCP (transport-wide feedback, receiver reports, REMB) goes
 * through the core parsers into the controller.
 *
 * Why our own numbers: werift keeps a transport-wide number already present in a packet's header (it
 * overwrites its own with it), while its own send log reads a shared counter after an `await` and so
 * mismatches numbers and times when sends overlap. werift hands RTCP as objects only; they are
 * serialized back to bytes so that one parser (the core's, which never throws) reads them all.
 */

export interface TransportFeedbackLoopOptions {
  /** The feed's floor and ceiling (its degradation policy's). */
  minKbps: number;
  maxKbps: number;
  startKbps?: number;
  /** The feed's profile bitrate: where an application-limited rise stops. */
  profileKbps?: number;
  /** Microseconds on a monotonic clock; `performance.now()` by default. */
  nowUs?: () => number;
  /** Microseconds since the Unix epoch, for the RTT from receiver reports; `Date.now()` by default. */
  wallClockUs?: () => number;
  /** When given, the controller's state is logged (debug) about once a second, for the benches. */
  log?: Logger;
  /**
   * The hub asked for a keyframe by FIR (RFC 5104), which werift ignores (it answers PLI itself). A
   * resent FIR (same sequence number) is not passed on; pacing is the feed's, as for PLI.
   */
  onFir?: () => void;
}

/** The hub's requests counted since the publication connected: what health shows of them. */
export interface FeedbackRequestCounts {
  nacks: number;
  nackedPackets: number;
  plis: number;
  firs: number;
}

const STATE_LOG_INTERVAL_US = 1_000_000;

/** What health shows of a publication's network. */
export interface TransportFeedbackStatus {
  estimateKbps: number;
  rttMs?: number;
  lossPercent?: number;
  /** Interarrival jitter from the hub's last receiver report, in ms. */
  jitterMs?: number;
  packetsStamped: number;
  feedbackReceived: number;
  rtcpMalformed: number;
}

interface Serializable {
  serialize(): Buffer;
}

interface Stream {
  transceiver: RTCRtpTransceiver;
  /** The negotiated id of the transport-wide extension; undefined when not (yet) known or not negotiated. */
  extensionId: number | undefined;
}

export class TransportFeedbackLoop {
  private controller: CongestionController;
  private readonly nowUs: () => number;
  private readonly wallClockUs: () => number;
  private readonly streams: Stream[] = [];
  private sequence = 0;
  private unsubscribe: (() => void) | undefined;
  private videoSsrc: number | undefined;
  private rttUs: number | undefined;
  private lossFraction: number | undefined;
  private packetsStamped = 0;
  private feedbackReceived = 0;
  private rtcpMalformed = 0;
  private stateLoggedUs = Number.NEGATIVE_INFINITY;
  /** `bytesSent` when the state was last logged: what we sent since, beside what was delivered. */
  private bytesAtLog = 0;
  private jitterMs: number | undefined;
  private readonly requests: FeedbackRequestCounts = { nacks: 0, nackedPackets: 0, plis: 0, firs: 0 };
  private readonly firAsksKeyframe = createFirFilter();
  /** Bytes handed to the transport, and the last sample of it for the sent rate. */
  private bytesSent = 0;
  private sentSample: { atUs: number; bytes: number; kbps?: number } | undefined;

  constructor(private readonly options: TransportFeedbackLoopOptions) {
    this.nowUs = options.nowUs ?? (() => Math.round(performance.now() * 1000));
    this.wallClockUs = options.wallClockUs ?? (() => Date.now() * 1000);
    this.controller = createCongestionController(options);
  }

  /**
   * Starts the loop once the answer is applied and media can flow: `video` first; other transceivers
   * are stamped too when they share its transport (BUNDLE), since the sequence is per transport.
   */
  attach(video: RTCRtpTransceiver, ...others: (RTCRtpTransceiver | undefined)[]): void {
    if (this.unsubscribe) return;
    const feedbackNegotiated = video.sender.codec?.rtcpFeedback?.some((fb) => fb.type === "transport-cc");
    // Without transport-cc only loss and REMB bound the rate.
    this.controller = createCongestionController({
      ...this.options,
      transportFeedback: !!feedbackNegotiated,
    });
    this.videoSsrc = video.sender.ssrc;
    for (const transceiver of [video, ...others]) {
      if (!transceiver || transceiver.dtlsTransport !== video.dtlsTransport) continue;
      this.streams.push({ transceiver, extensionId: undefined });
    }
    const { unSubscribe } = video.dtlsTransport.onRtcp.subscribe((packet) => {
      this.onRtcp(withLengthOfItsBytes((packet as unknown as Serializable).serialize()));
    });
    this.unsubscribe = unSubscribe;
  }

  /**
   * The packet to hand to the track for `transceiver`, with our transport-wide number in it when the
   * extension is negotiated; its send time and size are logged as it goes.
   */
  stamp(transceiver: RTCRtpTransceiver | undefined, bytes: Buffer): RtpPacket {
    const packet = RtpPacket.deSerialize(bytes);
    const stream = this.streams.find((s) => s.transceiver === transceiver);
    if (!stream) return packet;
    stream.extensionId ??= negotiatedExtensions(stream.transceiver).find(
      (extension) => extension.uri === RTP_EXTENSION_URI.transportWideCC,
    )?.id;
    if (stream.extensionId === undefined) return packet;
    this.sequence = (this.sequence + 1) & 0xffff;
    const id = stream.extensionId;
    const extensions = packet.header.extensions.filter((extension) => extension.id !== id);
    extensions.push({ id, payload: serializeTransportWideCC(this.sequence) });
    packet.header.extensions = extensions;
    packet.header.extension = true;
    this.packetsStamped += 1;
    // What the link carries of it: RTP header with extensions, payload, and the SRTP tag.
    const sizeBytes = packet.header.serializeSize + packet.payload.length + 10;
    this.bytesSent += sizeBytes;
    this.controller.onPacketSent({ sequence: this.sequence, sendTimeUs: this.nowUs(), sizeBytes });
    return packet;
  }

  /** One RTCP packet (or compound) from the hub, as bytes. */
  onRtcp(bytes: Uint8Array): void {
    const parsed = parseRtcpCompound(bytes);
    if (!parsed.ok) {
      this.rtcpMalformed += 1;
      return;
    }
    const now = this.nowUs();
    for (const message of parsed.value) {
      if (message.kind === "transport-feedback") {
        this.feedbackReceived += 1;
        this.controller.onTransportFeedback(message.feedback, now);
      } else if (message.kind === "receiver-report") {
        for (const block of message.report.blocks) {
          if (this.videoSsrc !== undefined && block.ssrc !== this.videoSsrc) continue;
          this.lossFraction = block.fractionLost;
          // Video's RTP clock is 90 kHz.
          this.jitterMs = Math.round((block.jitter / 90) * 10) / 10;
          this.controller.onReceiverReport(block, now, compactNtp(this.wallClockUs()));
          this.rttUs = this.controller.state(now).rttUs;
        }
      } else if (message.kind === "remb") {
        this.controller.onRemb(message.remb.bitrateBps, now);
      } else {
        this.countRequest(message);
      }
    }
    this.logState(now);
  }

  private logState(nowUs: number): void {
    const log = this.options.log;
    if (!log || nowUs - this.stateLoggedUs < STATE_LOG_INTERVAL_US || !log.isLevelEnabled("debug")) return;
    const sentKbps = ((this.bytesSent - this.bytesAtLog) * 8 * 1000) / (nowUs - this.stateLoggedUs);
    this.stateLoggedUs = nowUs;
    this.bytesAtLog = this.bytesSent;
    const state = this.controller.state(nowUs);
    const { usage, rateControl, probing, targetKbps, delayBasedKbps, lossBoundKbps, deliveredKbps, rttUs } =
      state;
    log.debug(
      {
        usage,
        rateControl,
        probing,
        targetKbps: Math.round(targetKbps),
        delayBasedKbps: Math.round(delayBasedKbps),
        lossBoundKbps: Math.round(lossBoundKbps),
        deliveredKbps: deliveredKbps === undefined ? undefined : Math.round(deliveredKbps),
        sentKbps: Math.round(sentKbps),
        applicationLimited: state.applicationLimited,
        lastLoss: state.lastLoss,
        rttMs: Math.round(rttUs / 1000),
        feedbackReceived: this.feedbackReceived,
      },
      "congestion state",
    );
  }

  private countRequest(message: RtcpMessage): void {
    if (message.kind === "nack") {
      this.requests.nacks += 1;
      this.requests.nackedPackets += message.nack.sequences.length;
    } else if (message.kind === "pli") {
      this.requests.plis += 1;
    } else if (message.kind === "fir") {
      this.requests.firs += 1;
      const ours = this.streams.map((stream) => stream.transceiver.sender.ssrc);
      if (this.firAsksKeyframe(message.fir, ours)) this.options.onFir?.();
    }
  }

  /** NACK, PLI and FIR received so far. */
  requestCounts(): FeedbackRequestCounts {
    return { ...this.requests };
  }

  /**
   * What the publication sent (kbit/s, as the link carries it) since the previous sample at least a
   * second ago; undefined until there is one.
   */
  sentKbps(): number | undefined {
    const atUs = this.nowUs();
    const sample = this.sentSample;
    if (!sample) {
      this.sentSample = { atUs, bytes: this.bytesSent };
      return undefined;
    }
    if (atUs - sample.atUs < 1_000_000) return sample.kbps;
    const kbps = Math.round(((this.bytesSent - sample.bytes) * 8 * 1000) / (atUs - sample.atUs));
    this.sentSample = { atUs, bytes: this.bytesSent, kbps };
    return kbps;
  }

  targetBitrateKbps(): number {
    return this.controller.targetBitrateKbps(this.nowUs());
  }

  state(): CongestionState {
    return this.controller.state(this.nowUs());
  }

  status(): TransportFeedbackStatus {
    const status: TransportFeedbackStatus = {
      estimateKbps: Math.round(this.targetBitrateKbps()),
      packetsStamped: this.packetsStamped,
      feedbackReceived: this.feedbackReceived,
      rtcpMalformed: this.rtcpMalformed,
    };
    if (this.rttUs !== undefined) status.rttMs = Math.round(this.rttUs / 1000);
    if (this.lossFraction !== undefined) status.lossPercent = Math.round(this.lossFraction * 1000) / 10;
    if (this.jitterMs !== undefined) status.jitterMs = this.jitterMs;
    return status;
  }

  /** The publication's network for health and steering; undefined until media flows. */
  network(): PublicationNetwork | undefined {
    if (!this.unsubscribe) return undefined;
    const { estimateKbps, rttMs, lossPercent, jitterMs } = this.status();
    const network: PublicationNetwork = { estimateKbps, requests: this.requestCounts() };
    if (rttMs !== undefined) network.rttMs = rttMs;
    if (lossPercent !== undefined) network.lossPercent = lossPercent;
    if (jitterMs !== undefined) network.jitterMs = jitterMs;
    const sentKbps = this.sentKbps();
    if (sentKbps !== undefined) network.sentKbps = sentKbps;
    return network;
  }

  close(): void {
    this.unsubscribe?.();
  }
}

/**
 * The header extensions the answer agreed for a sender. werift keeps them in a field its typings mark
 * private; it sets them when the answer is applied.
 */
function negotiatedExtensions(transceiver: RTCRtpTransceiver): { id: number; uri: string }[] {
  const sender = transceiver.sender as unknown as { headerExtensions?: { id: number; uri: string }[] };
  return sender.headerExtensions ?? [];
}

/**
 * One RTCP packet as werift serialized it, its header's length set from its bytes: werift 0.24.4 writes
 * a FIR's length one word short (its FullIntraRequest counts the payload, not the packet), which the
 * core parser rightly refuses.
 */
export function withLengthOfItsBytes(bytes: Buffer): Buffer {
  if (bytes.length < 4 || bytes.length % 4 !== 0) return bytes;
  bytes.writeUInt16BE(bytes.length / 4 - 1, 2);
  return bytes;
}
