/**
 * What the path actually delivered lately, from the feedback: bytes that arrived over the last half
 * second of arrival times. Rate control decreases relative to this (not to what it had asked for), since
 * after a drop in capacity the asked-for rate says nothing about the link.
 */

const WINDOW_US = 500_000;
/** Too short a history measures one burst, not the link. */
const MIN_SPAN_US = 150_000;

export interface AcknowledgedBitrate {
  add(arrivalUs: number, sizeBytes: number): void;
  kbps(): number | undefined;
}

export function createAcknowledgedBitrate(): AcknowledgedBitrate {
  // Half a second of packets: a few hundred entries at most, trimmed from the front as time moves on.
  let samples: { arrivalUs: number; sizeBytes: number }[] = [];
  let firstUs: number | undefined;
  let newestUs = Number.NEGATIVE_INFINITY;

  return {
    add(arrivalUs, sizeBytes) {
      firstUs ??= arrivalUs;
      newestUs = Math.max(newestUs, arrivalUs);
      samples.push({ arrivalUs, sizeBytes });
      const from = newestUs - WINDOW_US;
      if ((samples[0]?.arrivalUs ?? from) < from) samples = samples.filter((s) => s.arrivalUs >= from);
    },
    kbps() {
      if (firstUs === undefined) return undefined;
      const history = newestUs - firstUs;
      if (history < MIN_SPAN_US) return undefined;
      const from = newestUs - WINDOW_US;
      let bytes = 0;
      for (const sample of samples) if (sample.arrivalUs >= from) bytes += sample.sizeBytes;
      // bits per µs is Mbit/s: × 1000 for kbit/s.
      return (bytes * 8 * 1000) / Math.min(history, WINDOW_US);
    },
  };
}
