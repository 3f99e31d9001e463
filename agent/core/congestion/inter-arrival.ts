/**
 * Groups packets into the bursts the sender sent them in, and measures how much later each group
 * arrived than it was sent, relative to the group before (GCC §5.2, "inter-group delay variation").
 * One frame goes out as a burst, so comparing single packets would mostly measure the pacer; comparing
 * groups measures the queue. A group is the packets sent within 5 ms of its first; packets that arrive in
 * a tight burst with a negative delay variation (a queue releasing them together) join the group too.
 */

export const GROUP_SPAN_US = 5_000;
/** Arrivals closer than this, that also arrived sooner than they were sent apart, are one burst. */
const BURST_US = 5_000;
/** A gap this long in arrivals (a stalled link, a paused feed) starts the measurement afresh. */
const RESET_GAP_US = 3_000_000;

export interface AckedPacket {
  sendTimeUs: number;
  arrivalUs: number;
  sizeBytes: number;
}

export interface DelayVariation {
  /** Between the last send times of two consecutive groups. */
  sendDeltaUs: number;
  /** Between their last arrivals. */
  arrivalDeltaUs: number;
  /** Arrival of the newer group, µs on the receiver's clock. */
  arrivalUs: number;
}

interface Group {
  firstSendUs: number;
  lastSendUs: number;
  lastArrivalUs: number;
}

export interface InterArrival {
  /** Feeds packets in arrival order; returns the variations of the groups that this completed. */
  add(packet: AckedPacket): DelayVariation | undefined;
  reset(): void;
}

export function createInterArrival(): InterArrival {
  let current: Group | undefined;
  let previous: Group | undefined;

  const belongs = (group: Group, packet: AckedPacket) => {
    if (packet.sendTimeUs - group.firstSendUs <= GROUP_SPAN_US) return true;
    const arrivalDelta = packet.arrivalUs - group.lastArrivalUs;
    const sendDelta = packet.sendTimeUs - group.lastSendUs;
    return arrivalDelta < BURST_US && arrivalDelta - sendDelta < 0;
  };

  return {
    add(packet) {
      if (!current) {
        current = start(packet);
        return undefined;
      }
      // Reordered into an older group: it tells nothing about the queue now.
      if (packet.sendTimeUs < current.firstSendUs) return undefined;
      if (packet.arrivalUs - current.lastArrivalUs > RESET_GAP_US) {
        previous = undefined;
        current = start(packet);
        return undefined;
      }
      if (belongs(current, packet)) {
        current.lastSendUs = Math.max(current.lastSendUs, packet.sendTimeUs);
        current.lastArrivalUs = Math.max(current.lastArrivalUs, packet.arrivalUs);
        return undefined;
      }
      const done = current;
      current = start(packet);
      const before = previous;
      previous = done;
      if (!before) return undefined;
      const arrivalDeltaUs = done.lastArrivalUs - before.lastArrivalUs;
      // Arrival order disagreeing with send order is reordering, not queueing.
      if (arrivalDeltaUs < 0) return undefined;
      return {
        sendDeltaUs: done.lastSendUs - before.lastSendUs,
        arrivalDeltaUs,
        arrivalUs: done.lastArrivalUs,
      };
    },
    reset() {
      current = undefined;
      previous = undefined;
    },
  };
}

function start(packet: AckedPacket): Group {
  return {
    firstSendUs: packet.sendTimeUs,
    lastSendUs: packet.sendTimeUs,
    lastArrivalUs: packet.arrivalUs,
  };
}
