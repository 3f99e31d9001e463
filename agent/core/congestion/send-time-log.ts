import { unwrapAtOrBefore, unwrapNear } from "./sequence.js";

/**
 * What we sent and when, by our own transport-wide sequence number, so that feedback (which only says
 * when packets arrived) can be set against when they left. We stamp the numbers ourselves: a stack's own
 * log cannot be trusted when sends overlap.
 *
 * A ring of fixed size: at 4 Mbit/s with 1200-byte packets about 420 packets leave per second, and
 * feedback comes within a second or it is of no use, so 8192 entries (some 20 s) is plenty and memory
 * never grows.
 */

export interface SentPacket {
  /** Unwrapped: counts on past 65,535. */
  sequence: number;
  sendTimeUs: number;
  sizeBytes: number;
}

export interface SendTimeLog {
  /** Records a packet stamped with `wireSequence` (16 bits); returns its unwrapped number. */
  record(wireSequence: number, sendTimeUs: number, sizeBytes: number): number;
  /** The packet a feedback's 16-bit sequence number refers to, if still in the ring. */
  lookup(wireSequence: number): SentPacket | undefined;
  /** The newest unwrapped sequence recorded, if any. */
  newest(): number | undefined;
  /**
   * Marks a looked-up packet as reported received; true only the first time. A libwebrtc receiver
   * reports packets again: a late packet with an old number (a NACK retransmission keeps the
   * original) moves its feedback window back, and the next feedback repeats everything from there.
   */
  acknowledge(sequence: number): boolean;
}

export const DEFAULT_SEND_LOG_CAPACITY = 8192;

export function createSendTimeLog(capacity = DEFAULT_SEND_LOG_CAPACITY): SendTimeLog {
  const size = Math.max(1, Math.floor(capacity));
  const sequences = new Float64Array(size).fill(-1);
  const sendTimes = new Float64Array(size);
  const sizes = new Uint32Array(size);
  const acknowledged = new Uint8Array(size);
  let newest: number | undefined;
  const slot = (sequence: number) => ((sequence % size) + size) % size;

  return {
    record(wireSequence, sendTimeUs, sizeBytes) {
      // Each new number is taken as the nearest after the newest: we send in order, a step back is a
      // resend of an old number (NACK answered with the same number), which is logged again as sent now.
      const sequence =
        newest === undefined ? wireSequence & 0xffff : unwrapNear(wireSequence & 0xffff, newest);
      const at = slot(sequence);
      sequences[at] = sequence;
      sendTimes[at] = sendTimeUs;
      sizes[at] = sizeBytes;
      acknowledged[at] = 0;
      if (newest === undefined || sequence > newest) newest = sequence;
      return sequence;
    },
    lookup(wireSequence) {
      if (newest === undefined) return undefined;
      const sequence = unwrapAtOrBefore(wireSequence & 0xffff, newest);
      const at = slot(sequence);
      if (sequence < 0 || sequences[at] !== sequence) return undefined;
      return { sequence, sendTimeUs: sendTimes[at] ?? 0, sizeBytes: sizes[at] ?? 0 };
    },
    newest: () => newest,
    acknowledge(sequence) {
      const at = slot(sequence);
      if (sequences[at] !== sequence || acknowledged[at] === 1) return false;
      acknowledged[at] = 1;
      return true;
    },
  };
}
