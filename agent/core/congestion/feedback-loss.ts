/**
 * Packet loss from transport-wide feedback: of the packets the feedback covers for the first time, the
 * share reported "not received", over at least a second (as a receiver report) and twenty packets. This is the loss the
 * loss bound acts on when transport-cc is negotiated: the receiver reports' loss fraction counts a
 * packet repaired by a NACK retransmission as received, so on a link whose queue overflows (and where
 * every loss is asked for again, which fills the link further) the reports look clean while the link
 * is dropping most of what we send. libwebrtc's loss-based estimate also reads the feedback.
 */

const MIN_WINDOW_US = 1_000_000;
const MIN_PACKETS = 20;

export interface FeedbackLoss {
  /** One packet of a feedback, by its unwrapped sequence; packets already counted are ignored. */
  add(sequence: number, received: boolean): void;
  /** The loss fraction since the last one taken, once the window is full; otherwise undefined. */
  take(nowUs: number): number | undefined;
}

export function createFeedbackLoss(): FeedbackLoss {
  let newestCounted = Number.NEGATIVE_INFINITY;
  let lost = 0;
  let total = 0;
  let windowStartUs: number | undefined;

  return {
    add(sequence, received) {
      if (sequence <= newestCounted) return;
      newestCounted = sequence;
      total += 1;
      if (!received) lost += 1;
    },
    take(nowUs) {
      windowStartUs ??= nowUs;
      if (nowUs - windowStartUs < MIN_WINDOW_US || total < MIN_PACKETS) return undefined;
      const fraction = lost / total;
      lost = 0;
      total = 0;
      windowStartUs = nowUs;
      return fraction;
    },
  };
}
