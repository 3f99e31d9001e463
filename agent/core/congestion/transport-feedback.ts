import { malformed, type Parsed, parsed } from "./result.js";

/**
 * RTCP transport-wide congestion-control feedback (RTPFB, PT 205, FMT 15;
 * draft-holmer-rmcat-transport-wide-cc-extensions-01): for a range of transport-wide sequence numbers,
 * which packets arrived and when, on the receiver's clock.
 *
 *   header (4) | sender SSRC (4) | media SSRC (4)
 *   base sequence (16) | packet status count (16) | reference time (24, × 64 ms) | feedback count (8)
 *   packet chunks (16 bits each) … | receive deltas (1 or 2 bytes each) … | padding to 32 bits
 *
 * A chunk is a run (T = 0: a 2-bit symbol and a 13-bit length) or a status vector (T = 1; S = 0:
 * fourteen 1-bit symbols, received or not; S = 1: seven 2-bit symbols). Symbols: 0 not received,
 * 1 received with a small delta (1 byte, unsigned, × 250 µs), 2 received with a large delta (2 bytes,
 * signed, × 250 µs), 3 reserved. The first delta is from the reference time, each next from the one before.
 */

export const RTCP_RTPFB = 205;
export const TWCC_FMT = 15;
export const TWCC_DELTA_US = 250;
export const TWCC_REFERENCE_US = 64_000;

export interface PacketArrival {
  /** 16-bit, as on the wire; the send-time log unwraps it. */
  sequence: number;
  /** On the receiver's clock, µs; `undefined` when the packet was reported lost. */
  arrivalUs: number | undefined;
}

export interface TransportFeedback {
  senderSsrc: number;
  mediaSsrc: number;
  baseSequence: number;
  /** Counts feedback packets modulo 256, so a lost feedback packet can be noticed. */
  feedbackCount: number;
  /** The 24-bit reference time as µs (it wraps after about 12 days; the controller unwraps it). */
  referenceTimeUs: number;
  packets: PacketArrival[];
}

/** Packet status symbols. */
const Status = { NotReceived: 0, Small: 1, Large: 2 } as const;
type Status = number;

const HEADER_BYTES = 20;

/** Parses one RTCP packet (the first in `bytes`); the length field bounds what is read. */
export function parseTransportFeedback(bytes: Uint8Array): Parsed<TransportFeedback> {
  if (bytes.length < HEADER_BYTES)
    return malformed(`transport feedback of ${bytes.length} bytes is too short`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const first = bytes[0] ?? 0;
  if (first >> 6 !== 2) return malformed("not RTCP version 2");
  if ((first & 0x1f) !== TWCC_FMT || bytes[1] !== RTCP_RTPFB) return malformed("not transport-wide feedback");
  const declared = (view.getUint16(2) + 1) * 4;
  if (declared > bytes.length) return malformed(`length field says ${declared} bytes, ${bytes.length} given`);
  // Padding (P bit): the last byte counts the padding bytes, which hold no chunks or deltas.
  let end = declared;
  if (first & 0x20) {
    const padding = bytes[declared - 1] ?? 0;
    if (padding === 0 || padding > declared - HEADER_BYTES) return malformed("bad padding");
    end -= padding;
  }
  const baseSequence = view.getUint16(12);
  const count = view.getUint16(14);
  const referenceTimeUs = (view.getUint32(16) >>> 8) * TWCC_REFERENCE_US;
  const feedbackCount = bytes[19] ?? 0;

  // Chunks: every chunk consumes two bytes, so the loop ends with the bytes even if lengths are hostile.
  const symbols: Status[] = [];
  let offset = HEADER_BYTES;
  while (symbols.length < count) {
    if (offset + 2 > end) return malformed(`chunks end after ${symbols.length} of ${count} packets`);
    const chunk = view.getUint16(offset);
    offset += 2;
    const left = count - symbols.length;
    if ((chunk & 0x8000) === 0) {
      const symbol = (chunk >> 13) & 0x3;
      if (symbol === 3) return malformed("reserved status symbol in a run");
      const length = chunk & 0x1fff;
      if (length === 0) return malformed("run of length 0");
      for (let i = 0; i < Math.min(length, left); i += 1) symbols.push(symbol);
    } else if ((chunk & 0x4000) === 0) {
      for (let i = 0; i < Math.min(14, left); i += 1) symbols.push((chunk >> (13 - i)) & 0x1);
    } else {
      for (let i = 0; i < Math.min(7, left); i += 1) {
        const symbol = (chunk >> (12 - 2 * i)) & 0x3;
        if (symbol === 3) return malformed("reserved status symbol in a vector");
        symbols.push(symbol);
      }
    }
  }

  const packets: PacketArrival[] = [];
  let arrivalUs = referenceTimeUs;
  for (const [index, symbol] of symbols.entries()) {
    const sequence = (baseSequence + index) & 0xffff;
    if (symbol === Status.NotReceived) {
      packets.push({ sequence, arrivalUs: undefined });
      continue;
    }
    const size = symbol === Status.Small ? 1 : 2;
    if (offset + size > end) return malformed(`receive deltas end at packet ${index} of ${count}`);
    const ticks = size === 1 ? view.getUint8(offset) : view.getInt16(offset);
    offset += size;
    arrivalUs += ticks * TWCC_DELTA_US;
    packets.push({ sequence, arrivalUs });
  }
  return parsed({
    senderSsrc: view.getUint32(4),
    mediaSsrc: view.getUint32(8),
    baseSequence,
    feedbackCount,
    referenceTimeUs,
    packets,
  });
}

export interface FeedbackToWrite {
  senderSsrc: number;
  mediaSsrc: number;
  feedbackCount: number;
  /** Consecutive sequence numbers (mod 2^16) from the first; arrival times on the receiver's clock. */
  packets: readonly PacketArrival[];
  /** Forces the chunk kind, so both can be exercised; by default the shortest encoding is chosen. */
  chunks?: "auto" | "vectors";
}

/**
 * Builds feedback bytes (for tests and the link simulator; a receiver would use the same encoding).
 * Arrival times are rounded to 250 µs. Throws on input it cannot encode: that is a caller's mistake.
 */
export function writeTransportFeedback(feedback: FeedbackToWrite): Uint8Array {
  const { packets } = feedback;
  const head = packets[0];
  if (!head || packets.length > 0xffff) throw new Error("feedback needs 1 to 65535 packets");
  for (const [index, packet] of packets.entries()) {
    if (packet.sequence !== ((head.sequence + index) & 0xffff))
      throw new Error("sequences must be consecutive");
  }
  const firstArrival = packets.find((packet) => packet.arrivalUs !== undefined)?.arrivalUs ?? 0;
  const reference = Math.floor(firstArrival / TWCC_REFERENCE_US);
  let previousTicks = Math.round((reference * TWCC_REFERENCE_US) / TWCC_DELTA_US);
  const symbols: Status[] = [];
  const deltas: number[] = [];
  for (const packet of packets) {
    if (packet.arrivalUs === undefined) {
      symbols.push(Status.NotReceived);
      continue;
    }
    const ticks = Math.round(packet.arrivalUs / TWCC_DELTA_US);
    const delta = ticks - previousTicks;
    previousTicks = ticks;
    if (delta < -0x8000 || delta > 0x7fff) throw new Error(`receive delta of ${delta} ticks does not fit`);
    symbols.push(delta >= 0 && delta <= 0xff ? Status.Small : Status.Large);
    deltas.push(delta);
  }

  const chunks = encodeChunks(symbols, feedback.chunks ?? "auto");
  const deltaBytes = deltas.reduce((sum, delta) => sum + (delta >= 0 && delta <= 0xff ? 1 : 2), 0);
  const unpadded = HEADER_BYTES + chunks.length * 2 + deltaBytes;
  const length = Math.ceil(unpadded / 4) * 4;
  const bytes = new Uint8Array(length);
  const view = new DataView(bytes.buffer);
  const padding = length - unpadded;
  bytes[0] = 0x80 | (padding > 0 ? 0x20 : 0) | TWCC_FMT;
  bytes[1] = RTCP_RTPFB;
  view.setUint16(2, length / 4 - 1);
  view.setUint32(4, feedback.senderSsrc >>> 0);
  view.setUint32(8, feedback.mediaSsrc >>> 0);
  view.setUint16(12, head.sequence);
  view.setUint16(14, packets.length);
  view.setUint32(16, (((reference & 0xffffff) << 8) | (feedback.feedbackCount & 0xff)) >>> 0);
  let offset = HEADER_BYTES;
  for (const chunk of chunks) {
    view.setUint16(offset, chunk);
    offset += 2;
  }
  for (const delta of deltas) {
    if (delta >= 0 && delta <= 0xff) {
      view.setUint8(offset, delta);
      offset += 1;
    } else {
      view.setInt16(offset, delta);
      offset += 2;
    }
  }
  if (padding > 0) bytes[length - 1] = padding;
  return bytes;
}

/** Runs where they pay (seven or more alike), else the densest status vector that can hold the symbols. */
function encodeChunks(symbols: readonly Status[], mode: "auto" | "vectors"): number[] {
  const chunks: number[] = [];
  let index = 0;
  while (index < symbols.length) {
    const symbol = symbols[index] ?? Status.NotReceived;
    let run = 1;
    while (run < 0x1fff && symbols[index + run] === symbol) run += 1;
    if (mode === "auto" && (run >= 14 || index + run === symbols.length)) {
      chunks.push((symbol << 13) | run);
      index += run;
      continue;
    }
    const next14 = symbols.slice(index, index + 14);
    if (next14.every((s) => s !== Status.Large)) {
      let chunk = 0x8000;
      next14.forEach((s, i) => {
        chunk |= s << (13 - i);
      });
      chunks.push(chunk);
      index += next14.length;
    } else {
      const next7 = symbols.slice(index, index + 7);
      let chunk = 0xc000;
      next7.forEach((s, i) => {
        chunk |= s << (12 - 2 * i);
      });
      chunks.push(chunk);
      index += next7.length;
    }
  }
  return chunks;
}
