import { malformed, type Parsed, parsed } from "./result.js";

/**
 * The receiver's requests of the sender (RFC 4585, RFC 5104): NACK (RTPFB FMT 1) asks for lost packets
 * again, PLI (PSFB FMT 1) and FIR (PSFB FMT 4) for a keyframe. werift answers NACK and PLI itself but
 * ignores FIR, which some hubs and SFUs send instead of PLI; all three are counted for health.
 */

export const RTCP_PSFB_PLI = 1;
export const RTCP_PSFB_FIR = 4;
export const RTCP_RTPFB_NACK = 1;

export interface Nack {
  senderSsrc: number;
  mediaSsrc: number;
  /** The sequence numbers asked for again, from each PID and its bitmask of the 16 that follow. */
  sequences: number[];
}

export interface Pli {
  senderSsrc: number;
  mediaSsrc: number;
}

/** One FIR entry: the stream asked for a keyframe, and the request's number (repeated on a resend). */
export interface FirEntry {
  ssrc: number;
  sequence: number;
}

export interface Fir {
  senderSsrc: number;
  entries: FirEntry[];
}

function header(packet: Uint8Array, minLength: number, what: string): Parsed<DataView> {
  if (packet.length < minLength) return malformed(`${what} too short`);
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const length = (view.getUint16(2) + 1) * 4;
  if (length > packet.length) return malformed(`${what} longer than its bytes`);
  return parsed(new DataView(packet.buffer, packet.byteOffset, length));
}

/** Generic NACK: 12 bytes of header and SSRCs, then 4-byte FCIs of PID and BLP. */
export function parseNack(packet: Uint8Array): Parsed<Nack> {
  const view = header(packet, 16, "NACK");
  if (!view.ok) return view;
  const v = view.value;
  if ((v.byteLength - 12) % 4 !== 0) return malformed("NACK entries are not 4 bytes each");
  const sequences: number[] = [];
  for (let at = 12; at < v.byteLength; at += 4) {
    const pid = v.getUint16(at);
    const bitmask = v.getUint16(at + 2);
    sequences.push(pid);
    for (let bit = 0; bit < 16; bit += 1) {
      if (bitmask & (1 << bit)) sequences.push((pid + bit + 1) & 0xffff);
    }
  }
  return parsed({ senderSsrc: v.getUint32(4), mediaSsrc: v.getUint32(8), sequences });
}

export function parsePli(packet: Uint8Array): Parsed<Pli> {
  const view = header(packet, 12, "PLI");
  if (!view.ok) return view;
  return parsed({ senderSsrc: view.value.getUint32(4), mediaSsrc: view.value.getUint32(8) });
}

/**
 * FIR (RFC 5104 §4.3.1): 12 bytes of header and SSRCs (the media source SSRC unused, 0), then 8-byte
 * entries of the stream's SSRC, the request's sequence number and 3 reserved bytes.
 */
export function parseFir(packet: Uint8Array): Parsed<Fir> {
  const view = header(packet, 20, "FIR");
  if (!view.ok) return view;
  const v = view.value;
  if ((v.byteLength - 12) % 8 !== 0) return malformed("FIR entries are not 8 bytes each");
  const entries: FirEntry[] = [];
  for (let at = 12; at < v.byteLength; at += 8)
    entries.push({ ssrc: v.getUint32(at), sequence: v.getUint8(at + 4) });
  return parsed({ senderSsrc: v.getUint32(4), entries });
}

/**
 * Which FIRs ask for a new keyframe: an entry for one of our streams whose sequence number differs from
 * the last one seen from that sender for that stream (RFC 5104 §4.3.1.2: a repeated number is a resend
 * of the same request, already answered). Keeps its own memory of the last numbers.
 */
export function createFirFilter(): (fir: Fir, ourSsrcs: readonly number[]) => boolean {
  const lastSeen = new Map<string, number>();
  return (fir, ourSsrcs) => {
    let asks = false;
    for (const entry of fir.entries) {
      if (!ourSsrcs.includes(entry.ssrc)) continue;
      const key = `${fir.senderSsrc}:${entry.ssrc}`;
      if (lastSeen.get(key) === entry.sequence) continue;
      lastSeen.set(key, entry.sequence);
      asks = true;
    }
    return asks;
  };
}
