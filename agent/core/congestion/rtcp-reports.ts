import {
  type Fir,
  type Nack,
  type Pli,
  parseFir,
  parseNack,
  parsePli,
  RTCP_PSFB_FIR,
  RTCP_PSFB_PLI,
  RTCP_RTPFB_NACK,
} from "./feedback-requests.js";
import { malformed, type Parsed, parsed } from "./result.js";
import {
  parseTransportFeedback,
  RTCP_RTPFB,
  type TransportFeedback,
  TWCC_FMT,
} from "./transport-feedback.js";

/**
 * The other RTCP a sender learns the path from: receiver report blocks (in RR and SR packets; RFC 3550
 * §6.4) give loss, jitter and, with LSR/DLSR, the round-trip time; REMB (draft-alvestrand-rmcat-remb) is a
 * receiver's own estimate, which some hubs send instead of transport-wide feedback.
 */

export const RTCP_SR = 200;
export const RTCP_RR = 201;
export const RTCP_PSFB = 206;
const REMB_FMT = 15;

export interface ReportBlock {
  ssrc: number;
  /** Share of packets lost since the previous report, 0–1. */
  fractionLost: number;
  /** Packets lost since the start; negative when duplicates outnumber losses. */
  cumulativeLost: number;
  extendedHighestSequence: number;
  /** Interarrival jitter in RTP timestamp units (divide by the clock rate, 90 kHz for video). */
  jitter: number;
  /** Middle 32 bits of the NTP time of the last SR the receiver had; 0 if none yet. */
  lastSr: number;
  /** Delay since that SR, in 1/65536 s. */
  delaySinceLastSr: number;
}

export interface ReceiverReport {
  senderSsrc: number;
  blocks: ReportBlock[];
}

export interface Remb {
  senderSsrc: number;
  bitrateBps: number;
  ssrcs: number[];
}

export type RtcpMessage =
  | { kind: "receiver-report"; report: ReceiverReport }
  | { kind: "remb"; remb: Remb }
  | { kind: "transport-feedback"; feedback: TransportFeedback }
  | { kind: "nack"; nack: Nack }
  | { kind: "pli"; pli: Pli }
  | { kind: "fir"; fir: Fir }
  | { kind: "other"; packetType: number; fmt: number };

/**
 * Splits a compound RTCP packet and parses what congestion control uses. A malformed part is an error
 * for the whole, since its length field can no longer be trusted to find the next part.
 */
export function parseRtcpCompound(bytes: Uint8Array): Parsed<RtcpMessage[]> {
  const messages: RtcpMessage[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    if (bytes.length - offset < 4) return malformed("trailing bytes after the last RTCP packet");
    const length = ((((bytes[offset + 2] ?? 0) << 8) | (bytes[offset + 3] ?? 0)) + 1) * 4;
    if (offset + length > bytes.length) return malformed("RTCP packet longer than the datagram");
    const packet = bytes.subarray(offset, offset + length);
    offset += length;
    const message = parseOne(packet);
    if (!message.ok) return message;
    messages.push(message.value);
  }
  return parsed(messages);
}

function parseOne(packet: Uint8Array): Parsed<RtcpMessage> {
  const first = packet[0] ?? 0;
  if (first >> 6 !== 2) return malformed("not RTCP version 2");
  const fmt = first & 0x1f;
  const packetType = packet[1] ?? 0;
  if (packetType === RTCP_RR || packetType === RTCP_SR) {
    const report = parseReceiverReport(packet);
    return report.ok ? parsed({ kind: "receiver-report", report: report.value }) : report;
  }
  if (packetType === RTCP_PSFB && fmt === REMB_FMT) {
    const remb = parseRemb(packet);
    // PSFB FMT 15 is any application-layer feedback: only REMB is ours, the rest is "other".
    if (remb.ok) return parsed({ kind: "remb", remb: remb.value });
    return parsed({ kind: "other", packetType, fmt });
  }
  if (packetType === RTCP_RTPFB && fmt === RTCP_RTPFB_NACK) {
    const nack = parseNack(packet);
    return nack.ok ? parsed({ kind: "nack", nack: nack.value }) : nack;
  }
  if (packetType === RTCP_PSFB && fmt === RTCP_PSFB_PLI) {
    const pli = parsePli(packet);
    return pli.ok ? parsed({ kind: "pli", pli: pli.value }) : pli;
  }
  if (packetType === RTCP_PSFB && fmt === RTCP_PSFB_FIR) {
    const fir = parseFir(packet);
    return fir.ok ? parsed({ kind: "fir", fir: fir.value }) : fir;
  }
  if (packetType === RTCP_RTPFB && fmt === TWCC_FMT) {
    const feedback = parseTransportFeedback(packet);
    return feedback.ok ? parsed({ kind: "transport-feedback", feedback: feedback.value }) : feedback;
  }
  return parsed({ kind: "other", packetType, fmt });
}

/** The report blocks of an RR (PT 201) or an SR (PT 200, after its 20 bytes of sender info). */
export function parseReceiverReport(packet: Uint8Array): Parsed<ReceiverReport> {
  if (packet.length < 8) return malformed("receiver report too short");
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const packetType = packet[1];
  if (packetType !== RTCP_RR && packetType !== RTCP_SR) return malformed("not a receiver or sender report");
  const count = (packet[0] ?? 0) & 0x1f;
  const start = packetType === RTCP_SR ? 28 : 8;
  const length = Math.min(packet.length, (view.getUint16(2) + 1) * 4);
  if (start + count * 24 > length) return malformed(`${count} report blocks do not fit in ${length} bytes`);
  const blocks: ReportBlock[] = [];
  for (let i = 0; i < count; i += 1) {
    const at = start + i * 24;
    const lostWord = view.getUint32(at + 4);
    const cumulative = lostWord & 0xffffff;
    blocks.push({
      ssrc: view.getUint32(at),
      fractionLost: (lostWord >>> 24) / 256,
      cumulativeLost: cumulative & 0x800000 ? cumulative - 0x1000000 : cumulative,
      extendedHighestSequence: view.getUint32(at + 8),
      jitter: view.getUint32(at + 12),
      lastSr: view.getUint32(at + 16),
      delaySinceLastSr: view.getUint32(at + 20),
    });
  }
  return parsed({ senderSsrc: view.getUint32(4), blocks });
}

/** REMB: PSFB FMT 15, "REMB", the SSRC count, a 6-bit exponent and an 18-bit mantissa, the SSRCs. */
export function parseRemb(packet: Uint8Array): Parsed<Remb> {
  if (packet.length < 20) return malformed("REMB too short");
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  if (view.getUint32(12) !== 0x52454d42) return malformed("application feedback that is not REMB");
  const count = packet[16] ?? 0;
  const length = Math.min(packet.length, (view.getUint16(2) + 1) * 4);
  if (20 + count * 4 > length) return malformed(`${count} REMB SSRCs do not fit in ${length} bytes`);
  const exponent = (packet[17] ?? 0) >> 2;
  const mantissa = (((packet[17] ?? 0) & 0x3) << 16) | view.getUint16(18);
  const ssrcs: number[] = [];
  for (let i = 0; i < count; i += 1) ssrcs.push(view.getUint32(20 + i * 4));
  // Multiply, not shift: 2^63 does not fit a 32-bit shift.
  return parsed({ senderSsrc: view.getUint32(4), bitrateBps: mantissa * 2 ** exponent, ssrcs });
}

/** Seconds between the NTP epoch (1900) and the Unix epoch (1970). */
const NTP_UNIX_OFFSET_S = 2_208_988_800;

/**
 * The middle 32 bits of the NTP time (16.16 fixed-point seconds) for a Unix time in µs: what our sender
 * reports carry, and so what LSR echoes back.
 */
export function compactNtp(unixUs: number): number {
  const seconds = Math.floor(unixUs / 1e6) + NTP_UNIX_OFFSET_S;
  const fraction = Math.floor(((unixUs % 1e6) / 1e6) * 65536);
  return (((seconds & 0xffff) << 16) | fraction) >>> 0;
}

/**
 * RFC 3550 §6.4.1: RTT = arrival − LSR − DLSR, all in compact NTP. `undefined` without an SR echoed yet,
 * or when the result is negative or absurd (clock step, hostile report).
 */
export function roundTripUs(block: ReportBlock, arrivalCompactNtp: number): number | undefined {
  if (block.lastSr === 0) return undefined;
  const units = (arrivalCompactNtp - block.lastSr - block.delaySinceLastSr) >>> 0;
  // Beyond 60 s the subtraction wrapped around a negative value.
  if (units > 60 * 65536) return undefined;
  return Math.round((units / 65536) * 1e6);
}
