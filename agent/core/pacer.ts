/**
 * The pacer: a queue between the encoder and the network that lets packets leave at a pace (a multiple
 * of the congestion controller's target, as libwebrtc's PacingController) instead of a frame at a time.
 * Without it a keyframe (ten or more times a delta frame) leaves as one burst and fills a slow link's
 * queue at once: the delay-based estimator reads that as congestion and the burst's tail may be dropped.
 *
 * Debt-based, as libwebrtc's: each sent packet adds its size to a debt that drains at the pacing rate,
 * and a packet may leave while the debt is paid. A little credit builds up while idle (`burstUs` of the
 * pace), so a timer that fires late does not slow the flow. Audio goes before video (it is small and
 * late audio is heard at once).
 *
 * Bounds: the pace never falls below what the feed has put in lately (× the factor), so the pacer
 * smooths bursts and never holds back an encoder that has not yet followed a lower target (that is the
 * congestion controller's business); a queue longer than `maxQueueDelayUs` at the pace raises the pace
 * so it drains within that; and should the oldest video packet still have waited longer than
 * `dropAfterUs` in the pacer, the queued video is dropped up to the next keyframe, later delta packets
 * too until one comes, and a keyframe is asked for: a late picture is worth less than a fresh one. A
 * stalled event loop (no call for over 100 ms with packets queued) does not count as waiting: after a
 * stall the queue leaves at once, late, rather than being thrown away for what the pacer did not do.
 *
 * Pure: time is an argument; the adapter owns the timer and the socket.
 */

export const PACING_FACTOR = 2.5;
export const DEFAULT_BURST_US = 10_000;
export const DEFAULT_MAX_QUEUE_DELAY_US = 250_000;
export const DEFAULT_DROP_AFTER_US = 1_000_000;
/** A gap this long between calls with packets queued is a stalled event loop, not the pacer's wait. */
const STALL_GAP_US = 100_000;
/** The input rate is measured over this long. */
const INPUT_WINDOW_US = 1_000_000;
const DEBT_EPSILON_BYTES = 1e-3;

export type PacketKind = "audio" | "video";

export interface PacedPacket<T> {
  item: T;
  sizeBytes: number;
  kind: PacketKind;
  /** The first packet of a keyframe (SPS, or the start of an IDR picture). */
  keyframeStart: boolean;
}

export interface PacerOptions {
  pacingFactor?: number;
  burstUs?: number;
  maxQueueDelayUs?: number;
  dropAfterUs?: number;
}

export interface PacerStats {
  queuedPackets: number;
  queuedBytes: number;
  /** Video packets dropped because the queue grew too old, or while waiting for a keyframe after. */
  droppedPackets: number;
  /** The pacing rate in force, kbit/s. */
  paceKbps: number;
}

export interface Pacer<T> {
  setTargetKbps(kbps: number): void;
  enqueue(packet: PacedPacket<T>, nowUs: number): void;
  /** The packets that may leave now, in the order to send them. */
  take(nowUs: number): T[];
  /** When the next packet may leave; undefined while the queue is empty. */
  nextSendUs(nowUs: number): number | undefined;
  /** True once after a drop: the encoder should send a keyframe. */
  takeKeyframeRequest(): boolean;
  stats(): PacerStats;
}

interface Queued<T> extends PacedPacket<T> {
  enqueuedUs: number;
  /** The stalled time counted so far when it was queued: what it waited is the difference since. */
  stalledAtEnqueueUs: number;
}

export function createPacer<T>(options: PacerOptions = {}): Pacer<T> {
  const factor = options.pacingFactor ?? PACING_FACTOR;
  const burstUs = options.burstUs ?? DEFAULT_BURST_US;
  const maxQueueDelayUs = options.maxQueueDelayUs ?? DEFAULT_MAX_QUEUE_DELAY_US;
  const dropAfterUs = options.dropAfterUs ?? DEFAULT_DROP_AFTER_US;
  let targetKbps = 0;
  const audio: Queued<T>[] = [];
  let video: Queued<T>[] = [];
  let queuedBytes = 0;
  let debtBytes = 0;
  let lastUs: number | undefined;
  let dropped = 0;
  let waitingForKeyframe = false;
  let keyframeRequest = false;
  let inputs: { atUs: number; bytes: number }[] = [];
  let inputBytes = 0;
  let stalledUs = 0;
  let lastCallUs: number | undefined;

  const noteCall = (nowUs: number) => {
    const queued = audio.length + video.length > 0;
    if (queued && lastCallUs !== undefined && nowUs - lastCallUs > STALL_GAP_US)
      stalledUs += nowUs - lastCallUs;
    lastCallUs = nowUs;
  };

  const inputKbps = (nowUs: number) => {
    while (inputs.length > 0 && (inputs[0]?.atUs ?? nowUs) < nowUs - INPUT_WINDOW_US) {
      inputBytes -= inputs.shift()?.bytes ?? 0;
    }
    return (inputBytes * 8 * 1000) / INPUT_WINDOW_US;
  };

  /** Bytes per µs. */
  const pace = (nowUs: number) => {
    const base = (factor * Math.max(targetKbps, inputKbps(nowUs))) / 8 / 1000;
    const drain = queuedBytes / maxQueueDelayUs;
    return Math.max(base, drain, 1e-6);
  };

  const drainDebt = (nowUs: number) => {
    const rate = pace(nowUs);
    if (lastUs !== undefined) debtBytes -= rate * Math.max(0, nowUs - lastUs);
    // Idle time earns at most one burst of credit. Time that packets spent queued is owed to them in
    // full: a timer that fires late (a busy event loop) must not slow the pace below what was set.
    if (audio.length + video.length === 0) debtBytes = Math.max(debtBytes, -rate * burstUs);
    lastUs = nowUs;
    return rate;
  };

  const dropStaleVideo = (nowUs: number) => {
    const oldest = video[0];
    if (!oldest || nowUs - oldest.enqueuedUs - (stalledUs - oldest.stalledAtEnqueueUs) <= dropAfterUs) return;
    // Keep from the newest queued keyframe on, if there is one; otherwise drop all and wait for one.
    const keep = video.findLastIndex((p) => p.keyframeStart);
    const cut = keep > 0 ? keep : keep === 0 ? 0 : video.length;
    if (cut === 0) return;
    for (const packet of video.slice(0, cut)) queuedBytes -= packet.sizeBytes;
    dropped += cut;
    video = video.slice(cut);
    if (keep < 0) waitingForKeyframe = true;
    keyframeRequest = true;
  };

  return {
    setTargetKbps(kbps) {
      if (Number.isFinite(kbps) && kbps >= 0) targetKbps = kbps;
    },

    enqueue(packet, nowUs) {
      noteCall(nowUs);
      // Settle the idle time before this packet (capped at one burst) so that it is not counted as waiting.
      if (audio.length + video.length === 0) drainDebt(nowUs);
      inputs.push({ atUs: nowUs, bytes: packet.sizeBytes });
      inputBytes += packet.sizeBytes;
      if (packet.kind === "video") {
        if (waitingForKeyframe && !packet.keyframeStart) {
          dropped += 1;
          return;
        }
        waitingForKeyframe = false;
        video.push({ ...packet, enqueuedUs: nowUs, stalledAtEnqueueUs: stalledUs });
      } else audio.push({ ...packet, enqueuedUs: nowUs, stalledAtEnqueueUs: stalledUs });
      queuedBytes += packet.sizeBytes;
    },

    take(nowUs) {
      noteCall(nowUs);
      dropStaleVideo(nowUs);
      drainDebt(nowUs);
      const out: T[] = [];
      // A debt left by rounding (a timer set for the moment it reaches zero) must not hold a packet back.
      while (debtBytes <= DEBT_EPSILON_BYTES) {
        const packet = audio.length > 0 ? audio.shift() : video.shift();
        if (!packet) break;
        queuedBytes -= packet.sizeBytes;
        debtBytes += packet.sizeBytes;
        out.push(packet.item);
      }
      if (audio.length === 0 && video.length === 0) {
        debtBytes = Math.max(debtBytes, -pace(nowUs) * burstUs);
        queuedBytes = 0;
        inputs = inputs.filter((i) => i.atUs >= nowUs - INPUT_WINDOW_US);
      }
      return out;
    },

    nextSendUs(nowUs) {
      if (audio.length === 0 && video.length === 0) return undefined;
      const rate = drainDebt(nowUs);
      return nowUs + Math.max(0, debtBytes) / rate;
    },

    takeKeyframeRequest() {
      const requested = keyframeRequest;
      keyframeRequest = false;
      return requested;
    },

    stats(): PacerStats {
      return {
        queuedPackets: audio.length + video.length,
        queuedBytes,
        droppedPackets: dropped,
        paceKbps: lastUs === undefined ? 0 : pace(lastUs) * 8 * 1000,
      };
    },
  };
}

const NAL_IDR = 5;
const NAL_SPS = 7;
const STAP_A = 24;
const FU_A = 28;
const RTP_HEADER = 12;

/**
 * Whether an H.264 RTP packet (RFC 6184) starts a keyframe: a sequence parameter set (alone or first
 * in a STAP-A, as encoders send it before each IDR picture), or the first packet of an IDR picture.
 */
export function startsKeyframe(packet: Uint8Array): boolean {
  if (packet.length <= RTP_HEADER) return false;
  const first = packet[0] ?? 0;
  let offset = RTP_HEADER + (first & 0x0f) * 4;
  if ((first & 0x10) !== 0) {
    if (packet.length < offset + 4) return false;
    offset += 4 + (((packet[offset + 2] ?? 0) << 8) | (packet[offset + 3] ?? 0)) * 4;
  }
  if (packet.length <= offset) return false;
  const type = (packet[offset] ?? 0) & 0x1f;
  if (type === NAL_SPS || type === NAL_IDR) return true;
  if (type === STAP_A) {
    const inner = (packet[offset + 3] ?? 0) & 0x1f;
    return inner === NAL_SPS || inner === NAL_IDR;
  }
  if (type === FU_A) {
    const header = packet[offset + 1] ?? 0;
    return (header & 0x80) !== 0 && (header & 0x1f) === NAL_IDR;
  }
  return false;
}
