import {
  type CongestionController,
  type CongestionControllerOptions,
  type CongestionState,
  createCongestionController,
  parseRtcpCompound,
  parseTransportFeedback,
  type RtcpMessage,
  writeTransportFeedback,
} from "../../agent/core/congestion/index.js";
import { writeReceiverReport, writeRemb } from "./rtcp-writers.js";

/**
 * A pure link simulator on a fake clock: a sender that sends what the controller allows (video-like,
 * frames at 30 fps cut into 1200-byte packets and paced at 2.5 × the target), a bottleneck of a given
 * rate with a FIFO queue of bounded depth (like `tbf`: a packet that does not fit is dropped), a fixed
 * propagation delay, optional random loss from a seeded PRNG, and a receiver that sends transport-wide
 * feedback every 50 ms and a receiver report every second. Feedback and reports travel as bytes, through
 * the real writer and parser.
 */

export interface LinkOptions {
  /** Bottleneck rate at a time (µs). */
  rateKbps: (timeUs: number) => number;
  queueBytes: number;
  propagationUs: number;
  randomLoss?: number;
  seed?: number;
}

export interface SimulationOptions {
  durationUs: number;
  link: LinkOptions;
  controller: CongestionControllerOptions;
  /** REMB the receiver sends, from a time on, every second. */
  remb?: { fromUs: number; bitrateBps: number };
  framesPerSecond?: number;
  /** Frame sizes vary by ± this share around the target, as an encoder's do. */
  frameJitter?: number;
  /** What the picture needs at a time (µs): the encoder makes no more than this (application-limited). */
  contentKbps?: (timeUs: number) => number;
  /** Receiver reports say nothing is lost (as when NACK retransmissions repair every loss). */
  reportsHideLoss?: boolean;
}

export interface SimulatedPacket {
  sequence: number;
  sendUs: number;
  sizeBytes: number;
  /** On the simulation's clock; undefined when dropped. */
  arrivalUs: number | undefined;
  queueDelayUs: number;
}

export interface SimulationTrace {
  packets: SimulatedPacket[];
  /** The controller's target every 100 ms. */
  targets: { timeUs: number; kbps: number; state: CongestionState }[];
  controller: CongestionController;
}

const TICK_US = 1_000;
const PACKET_BYTES = 1_200;
const PACING_FACTOR = 2.5;
const FEEDBACK_INTERVAL_US = 50_000;
const REPORT_INTERVAL_US = 1_000_000;
/** The receiver's clock is not ours: only differences may matter. */
const RECEIVER_CLOCK_OFFSET_US = 987_654_321;

/** mulberry32: small, seeded, good enough for loss patterns and frame sizes. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export function simulate(options: SimulationOptions): SimulationTrace {
  const { link } = options;
  const random = seededRandom(link.seed ?? 1);
  const controller = createCongestionController(options.controller);
  const fps = options.framesPerSecond ?? 30;
  const frameJitter = options.frameJitter ?? 0.15;
  const packets: SimulatedPacket[] = [];
  const targets: SimulationTrace["targets"] = [];
  const deliveries: { atUs: number; deliver: () => void }[] = [];
  /** RTCP bytes from the receiver, parsed by the real parser when they reach the sender. */
  const deliverRtcp = (
    bytes: Uint8Array,
    nowUs: number,
    take: (message: RtcpMessage, atUs: number) => void,
  ) => {
    const atUs = nowUs + link.propagationUs;
    deliveries.push({
      atUs,
      deliver: () => {
        const parsed = parseRtcpCompound(bytes);
        if (!parsed.ok) return;
        for (const message of parsed.value) take(message, atUs);
      },
    });
  };
  const toSend: { atUs: number; sizeBytes: number }[] = [];

  let linkFreeUs = 0;
  let nextFrameUs = 0;
  let frame = 0;
  let nextFeedbackUs = FEEDBACK_INTERVAL_US;
  let nextReportUs = REPORT_INTERVAL_US;
  let nextRembUs = options.remb?.fromUs ?? Number.POSITIVE_INFINITY;
  let nextTargetUs = 0;
  let reported = 0; // the first sequence not yet in feedback
  let reportFrom = 0; // the first sequence not yet in a receiver report
  let cumulativeLost = 0;
  let feedbackCount = 0;

  const send = (sendUs: number, sizeBytes: number) => {
    const sequence = packets.length;
    controller.onPacketSent({ sequence: sequence & 0xffff, sendTimeUs: sendUs, sizeBytes });
    const rate = link.rateKbps(sendUs) * 1000;
    const backlogBytes = (Math.max(0, linkFreeUs - sendUs) * rate) / 8 / 1e6;
    const randomlyLost = random() < (link.randomLoss ?? 0);
    if (randomlyLost || backlogBytes + sizeBytes > link.queueBytes) {
      packets.push({ sequence, sendUs, sizeBytes, arrivalUs: undefined, queueDelayUs: 0 });
      return;
    }
    const startUs = Math.max(sendUs, linkFreeUs);
    linkFreeUs = startUs + (sizeBytes * 8 * 1e6) / rate;
    packets.push({
      sequence,
      sendUs,
      sizeBytes,
      arrivalUs: linkFreeUs + link.propagationUs,
      queueDelayUs: startUs - sendUs,
    });
  };

  const feedbackAt = (nowUs: number) => {
    // In order (one FIFO), so whatever is before the newest arrival and has not arrived is lost.
    let newest = reported - 1;
    for (let i = reported; i < packets.length; i += 1) {
      const arrival = packets[i]?.arrivalUs;
      if (arrival !== undefined && arrival <= nowUs) newest = i;
    }
    if (newest < reported) return;
    const covered = packets.slice(reported, newest + 1).map((packet) => ({
      sequence: packet.sequence & 0xffff,
      arrivalUs: packet.arrivalUs === undefined ? undefined : packet.arrivalUs + RECEIVER_CLOCK_OFFSET_US,
    }));
    reported = newest + 1;
    const bytes = writeTransportFeedback({ senderSsrc: 2, mediaSsrc: 1, feedbackCount, packets: covered });
    feedbackCount = (feedbackCount + 1) & 0xff;
    const atUs = nowUs + link.propagationUs;
    deliveries.push({
      atUs,
      deliver: () => {
        const parsed = parseTransportFeedback(bytes);
        if (parsed.ok) controller.onTransportFeedback(parsed.value, atUs);
      },
    });
  };

  const reportAt = (nowUs: number) => {
    let newest = reportFrom - 1;
    for (let i = reportFrom; i < packets.length; i += 1) {
      const arrival = packets[i]?.arrivalUs;
      if (arrival !== undefined && arrival <= nowUs) {
        newest = i;
      }
    }
    const expected = newest - reportFrom + 1;
    if (expected <= 0) return;
    // Count only packets up to the newest arrival, lost or received.
    let receivedInRange = 0;
    for (let i = reportFrom; i <= newest; i += 1)
      if (packets[i]?.arrivalUs !== undefined) receivedInRange += 1;
    const lost = options.reportsHideLoss ? 0 : expected - receivedInRange;
    cumulativeLost += lost;
    reportFrom = newest + 1;
    const bytes = writeReceiverReport(2, [
      { ssrc: 1, fractionLost: lost / expected, cumulativeLost, extendedHighestSequence: newest },
    ]);
    deliverRtcp(bytes, nowUs, (message, atUs) => {
      if (message.kind !== "receiver-report") return;
      for (const block of message.report.blocks) controller.onReceiverReport(block, atUs);
    });
  };

  for (let nowUs = 0; nowUs <= options.durationUs; nowUs += TICK_US) {
    for (let i = 0; i < deliveries.length; ) {
      const delivery = deliveries[i];
      if (delivery && delivery.atUs <= nowUs) {
        deliveries.splice(i, 1);
        delivery.deliver();
      } else i += 1;
    }
    if (nowUs >= nextFrameUs) {
      const target = Math.min(
        controller.targetBitrateKbps(nowUs),
        options.contentKbps?.(nowUs) ?? Number.POSITIVE_INFINITY,
      );
      const bytes = ((target * 1000) / 8 / fps) * (1 + frameJitter * (2 * random() - 1));
      const paceUsPerByte = (8 * 1e6) / (PACING_FACTOR * target * 1000);
      let offset = 0;
      for (let left = Math.max(1, Math.round(bytes)); left > 0; left -= PACKET_BYTES) {
        const size = Math.min(PACKET_BYTES, left);
        toSend.push({ atUs: nextFrameUs + offset, sizeBytes: size });
        offset += size * paceUsPerByte;
      }
      frame += 1;
      nextFrameUs = Math.round((frame * 1e6) / fps);
    }
    while (toSend.length > 0 && (toSend[0]?.atUs ?? Number.POSITIVE_INFINITY) <= nowUs) {
      const next = toSend.shift();
      if (next) send(next.atUs, next.sizeBytes);
    }
    if (nowUs >= nextFeedbackUs) {
      feedbackAt(nowUs);
      nextFeedbackUs += FEEDBACK_INTERVAL_US;
    }
    if (nowUs >= nextReportUs) {
      reportAt(nowUs);
      nextReportUs += REPORT_INTERVAL_US;
    }
    if (options.remb && nowUs >= nextRembUs) {
      deliverRtcp(writeRemb(2, options.remb.bitrateBps, [1]), nowUs, (message, atUs) => {
        if (message.kind === "remb") controller.onRemb(message.remb.bitrateBps, atUs);
      });
      nextRembUs += REPORT_INTERVAL_US;
    }
    if (nowUs >= nextTargetUs) {
      targets.push({
        timeUs: nowUs,
        kbps: controller.targetBitrateKbps(nowUs),
        state: controller.state(nowUs),
      });
      nextTargetUs += 100_000;
    }
  }
  return { packets, targets, controller };
}

/** Bits that arrived in [from, to), as kbit/s. */
export function deliveredKbps(trace: SimulationTrace, fromUs: number, toUs: number): number {
  let bits = 0;
  for (const packet of trace.packets) {
    if (packet.arrivalUs !== undefined && packet.arrivalUs >= fromUs && packet.arrivalUs < toUs) {
      bits += packet.sizeBytes * 8;
    }
  }
  return (bits / (toUs - fromUs)) * 1000;
}

/** Mean time packets sent in [from, to) waited in the bottleneck queue, µs. */
export function meanQueueDelayUs(trace: SimulationTrace, fromUs: number, toUs: number): number {
  const waits = trace.packets
    .filter((p) => p.arrivalUs !== undefined && p.sendUs >= fromUs && p.sendUs < toUs)
    .map((p) => p.queueDelayUs);
  return waits.length === 0 ? 0 : waits.reduce((a, b) => a + b, 0) / waits.length;
}

/** Mean of the controller's target over [from, to). */
export function meanTargetKbps(trace: SimulationTrace, fromUs: number, toUs: number): number {
  const inside = trace.targets.filter((t) => t.timeUs >= fromUs && t.timeUs < toUs).map((t) => t.kbps);
  return inside.length === 0 ? 0 : inside.reduce((a, b) => a + b, 0) / inside.length;
}

/** The start of the first 1 s window from `fromUs` on where delivery reaches `share` of `capacityKbps`. */
export function firstWindowAtShare(
  trace: SimulationTrace,
  fromUs: number,
  toUs: number,
  capacityKbps: number,
  share: number,
): number | undefined {
  for (let start = fromUs; start + 1_000_000 <= toUs; start += 100_000) {
    if (deliveredKbps(trace, start, start + 1_000_000) >= share * capacityKbps) return start;
  }
  return undefined;
}
