import { createAcknowledgedBitrate } from "./acknowledged-bitrate.js";
import { createAimdRateControl, type RateControlState } from "./aimd-rate-control.js";
import { createApplicationLimited } from "./application-limited.js";
import { createFeedbackLoss } from "./feedback-loss.js";
import { type AckedPacket, createInterArrival } from "./inter-arrival.js";
import { createLossBasedBound, LOSS_LOW } from "./loss-based-bound.js";
import { type BandwidthUsage, createOveruseDetector } from "./overuse-detector.js";
import { type ReportBlock, roundTripUs } from "./rtcp-reports.js";
import { createSendTimeLog } from "./send-time-log.js";
import { type TransportFeedback, TWCC_REFERENCE_US } from "./transport-feedback.js";
import { createTrendline } from "./trendline.js";

/**
 * One congestion controller per WebRTC transport (each feed has its own peer connection): the
 * delay-based rate from transport-wide feedback, bounded by loss from receiver reports and by REMB when
 * the hub sends one. Everything takes the time as an argument, so it runs on a fake clock in tests.
 */

export const DEFAULT_START_KBPS = 300;
/** No feedback for this long while feedback used to come: the path may be gone, stop pushing into it. */
export const FEEDBACK_TIMEOUT_US = 1_000_000;
/** RTT assumed until one is measured. */
const INITIAL_RTT_US = 200_000;
/** Weight of a new RTT sample: RTT is noisy (feedback batching) and only paces decisions. */
const RTT_SMOOTHING = 0.2;
/**
 * Application-limited is judged against the lowest rate of this long: an encoder takes a second or so
 * to follow a new bitrate, and a rate that just rose must not read as an encoder that cannot fill it.
 */
const ALR_TARGET_HISTORY_US = 2_000_000;
/** The 24-bit reference time wraps after 2^24 × 64 ms. */
const REFERENCE_WRAP_US = 2 ** 24 * TWCC_REFERENCE_US;

export interface CongestionControllerOptions {
  /** The feed's floor and ceiling (its degradation policy's). */
  minKbps: number;
  maxKbps: number;
  startKbps?: number;
  /** The feed's profile bitrate: where an application-limited rise stops (`maxKbps` when not given). */
  profileKbps?: number;
  /** False when the hub did not negotiate transport-cc: only loss and REMB then bound the rate. */
  transportFeedback?: boolean;
  sendLogCapacity?: number;
}

export interface CongestionState {
  targetKbps: number;
  delayBasedKbps: number;
  lossBoundKbps: number;
  rembKbps: number | undefined;
  deliveredKbps: number | undefined;
  sentKbps: number | undefined;
  applicationLimited: boolean;
  usage: BandwidthUsage;
  rateControl: RateControlState;
  probing: boolean;
  rttUs: number;
  lastLoss: number | undefined;
  thresholdMs: number;
}

export interface CongestionController {
  /** Every RTP packet as it leaves, with the transport-wide number we stamped into it. */
  onPacketSent(packet: { sequence: number; sendTimeUs: number; sizeBytes: number }): void;
  onTransportFeedback(feedback: TransportFeedback, nowUs: number): void;
  /** One report block about our stream; `arrivalCompactNtp` (when given) yields the RTT. */
  onReceiverReport(block: ReportBlock, nowUs: number, arrivalCompactNtp?: number): void;
  onRemb(bitrateBps: number, nowUs: number): void;
  targetBitrateKbps(nowUs: number): number;
  state(nowUs: number): CongestionState;
}

export function createCongestionController(options: CongestionControllerOptions): CongestionController {
  const minKbps = Math.max(1, options.minKbps);
  const maxKbps = Math.max(minKbps, options.maxKbps);
  const startKbps = Math.min(maxKbps, Math.max(minKbps, options.startKbps ?? DEFAULT_START_KBPS));
  const delayBased = options.transportFeedback ?? true;

  const log = createSendTimeLog(options.sendLogCapacity);
  const interArrival = createInterArrival();
  const trendline = createTrendline();
  const detector = createOveruseDetector();
  const delivered = createAcknowledgedBitrate();
  const sent = createAcknowledgedBitrate();
  const applicationLimited = createApplicationLimited();
  const feedbackLoss = createFeedbackLoss();
  let recentRates: { atUs: number; kbps: number }[] = [];
  const rateControl = createAimdRateControl({
    startKbps,
    minKbps,
    maxKbps,
    ...(options.profileKbps === undefined ? {} : { alrCeilingKbps: options.profileKbps }),
  });
  // Without transport feedback the loss bound is the estimate, so it starts where the rate starts.
  const loss = createLossBasedBound(delayBased ? maxKbps : startKbps, maxKbps);
  let remb: number | undefined;
  let rttUs = INITIAL_RTT_US;
  let rttFromReports = false;
  let lastFeedbackUs: number | undefined;
  let referenceOffsetUs = 0;
  let lastReferenceUs: number | undefined;

  const rawTarget = () => {
    let target = delayBased ? Math.min(rateControl.rateKbps(), loss.boundKbps()) : loss.boundKbps();
    if (remb !== undefined) target = Math.min(target, remb);
    return Math.min(maxKbps, Math.max(minKbps, target));
  };

  const target = (nowUs: number) => {
    const value = rawTarget();
    if (!delayBased || lastFeedbackUs === undefined) return value;
    const silentUs = nowUs - lastFeedbackUs;
    if (silentUs <= FEEDBACK_TIMEOUT_US) return value;
    // Halve for every further second of silence, down to the floor.
    return Math.max(minKbps, value * 0.5 ** Math.ceil((silentUs - FEEDBACK_TIMEOUT_US) / 1_000_000));
  };

  /** The encoder sends clearly less than the lowest rate of the last two seconds. */
  const isApplicationLimited = (nowUs: number) => {
    recentRates = recentRates.filter((r) => r.atUs >= nowUs - ALR_TARGET_HISTORY_US);
    recentRates.push({ atUs: nowUs, kbps: rateControl.rateKbps() });
    const lowest = Math.min(...recentRates.map((r) => r.kbps));
    return applicationLimited.update(sent.kbps(), lowest);
  };

  const noteRtt = (sampleUs: number, fromReport: boolean) => {
    if (!Number.isFinite(sampleUs) || sampleUs <= 0) return;
    // Report RTTs are exact; feedback-based ones include the feedback interval, so they only stand in.
    if (!fromReport && rttFromReports) return;
    if (fromReport && !rttFromReports) {
      rttFromReports = true;
      rttUs = sampleUs;
      return;
    }
    rttUs = (1 - RTT_SMOOTHING) * rttUs + RTT_SMOOTHING * sampleUs;
  };

  return {
    onPacketSent({ sequence, sendTimeUs, sizeBytes }) {
      log.record(sequence, sendTimeUs, sizeBytes);
      sent.add(sendTimeUs, sizeBytes);
    },

    onTransportFeedback(feedback, nowUs) {
      lastFeedbackUs = nowUs;
      if (
        lastReferenceUs !== undefined &&
        feedback.referenceTimeUs < lastReferenceUs - REFERENCE_WRAP_US / 2
      ) {
        referenceOffsetUs += REFERENCE_WRAP_US;
      }
      lastReferenceUs = feedback.referenceTimeUs;

      const acked: AckedPacket[] = [];
      let newestSendUs = Number.NEGATIVE_INFINITY;
      for (const packet of feedback.packets) {
        const logged = log.lookup(packet.sequence);
        if (!logged) continue;
        feedbackLoss.add(logged.sequence, packet.arrivalUs !== undefined);
        // Each arrival once: a packet reported again would count twice in the delivered rate (on the
        // bench, 2–2.5 Mbit/s "delivered" through a 1 Mbit/s link) and twice in the delay trend.
        if (packet.arrivalUs === undefined || !log.acknowledge(logged.sequence)) continue;
        acked.push({
          sendTimeUs: logged.sendTimeUs,
          arrivalUs: packet.arrivalUs + referenceOffsetUs,
          sizeBytes: logged.sizeBytes,
        });
        newestSendUs = Math.max(newestSendUs, logged.sendTimeUs);
      }
      const lossFraction = feedbackLoss.take(nowUs);
      if (lossFraction !== undefined) loss.onReport(lossFraction, rawTarget(), nowUs, rttUs);
      if (acked.length === 0) return;
      noteRtt(nowUs - newestSendUs, false);

      acked.sort((a, b) => a.arrivalUs - b.arrivalUs || a.sendTimeUs - b.sendTimeUs);
      let usage = detector.state();
      for (const packet of acked) {
        delivered.add(packet.arrivalUs, packet.sizeBytes);
        const variation = interArrival.add(packet);
        if (variation) usage = detector.detect(trendline.update(variation));
      }
      if (delayBased) {
        rateControl.update({
          usage,
          deliveredKbps: delivered.kbps(),
          nowUs,
          rttUs,
          applicationLimited:
            isApplicationLimited(nowUs) && usage === "normal" && (loss.lastLoss() ?? 0) < LOSS_LOW,
        });
      }
    },

    onReceiverReport(block, nowUs, arrivalCompactNtp) {
      if (arrivalCompactNtp !== undefined) {
        const rtt = roundTripUs(block, arrivalCompactNtp);
        if (rtt !== undefined) noteRtt(rtt, true);
      }
      // With transport feedback, loss is read from it (feedback-loss.ts): reports count repaired packets.
      if (!delayBased) loss.onReport(block.fractionLost, rawTarget(), nowUs, rttUs);
    },

    onRemb(bitrateBps, _nowUs) {
      if (!Number.isFinite(bitrateBps) || bitrateBps <= 0) return;
      remb = bitrateBps / 1000;
      rateControl.setCap(remb);
    },

    targetBitrateKbps: target,

    state(nowUs) {
      return {
        targetKbps: target(nowUs),
        delayBasedKbps: rateControl.rateKbps(),
        lossBoundKbps: loss.boundKbps(),
        rembKbps: remb,
        deliveredKbps: delivered.kbps(),
        sentKbps: sent.kbps(),
        applicationLimited: applicationLimited.active(),
        usage: detector.state(),
        rateControl: rateControl.state(),
        probing: rateControl.probing(),
        rttUs,
        lastLoss: loss.lastLoss(),
        thresholdMs: detector.thresholdMs(),
      };
    },
  };
}
