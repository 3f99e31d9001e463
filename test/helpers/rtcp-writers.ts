/** RTCP a receiver would send, built for tests: receiver reports, REMB and FIR. */

/**
 * A zeroed RTCP packet of `size` bytes with its common header (RFC 3550 §6.4.1) written: version 2,
 * `countOrFormat` (report count, or the feedback message type), `packetType`, the length in 32-bit
 * words minus one, and the sender's SSRC.
 */
function rtcpPacket(
  countOrFormat: number,
  packetType: number,
  size: number,
  senderSsrc: number,
): { bytes: Uint8Array; view: DataView } {
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  bytes[0] = 0x80 | countOrFormat;
  bytes[1] = packetType;
  view.setUint16(2, size / 4 - 1);
  view.setUint32(4, senderSsrc);
  return { bytes, view };
}

export interface BlockToWrite {
  ssrc: number;
  fractionLost: number;
  cumulativeLost: number;
  extendedHighestSequence?: number;
  jitter?: number;
  lastSr?: number;
  delaySinceLastSr?: number;
}

export function writeReceiverReport(senderSsrc: number, blocks: readonly BlockToWrite[]): Uint8Array {
  const { bytes, view } = rtcpPacket(blocks.length, 201, 8 + blocks.length * 24, senderSsrc);
  blocks.forEach((block, i) => {
    const at = 8 + i * 24;
    view.setUint32(at, block.ssrc);
    const fraction = Math.min(255, Math.floor(block.fractionLost * 256));
    view.setUint32(at + 4, ((fraction << 24) | (block.cumulativeLost & 0xffffff)) >>> 0);
    view.setUint32(at + 8, block.extendedHighestSequence ?? 0);
    view.setUint32(at + 12, block.jitter ?? 0);
    view.setUint32(at + 16, block.lastSr ?? 0);
    view.setUint32(at + 20, block.delaySinceLastSr ?? 0);
  });
  return bytes;
}

export function writeRemb(senderSsrc: number, bitrateBps: number, ssrcs: readonly number[]): Uint8Array {
  let exponent = 0;
  let mantissa = Math.floor(bitrateBps);
  while (mantissa > 0x3ffff) {
    mantissa = Math.floor(mantissa / 2);
    exponent += 1;
  }
  const { bytes, view } = rtcpPacket(15, 206, 20 + ssrcs.length * 4, senderSsrc);
  view.setUint32(8, 0);
  view.setUint32(12, 0x52454d42);
  bytes[16] = ssrcs.length;
  bytes[17] = (exponent << 2) | (mantissa >> 16);
  view.setUint16(18, mantissa & 0xffff);
  ssrcs.forEach((ssrc, i) => {
    view.setUint32(20 + i * 4, ssrc);
  });
  return bytes;
}

/** FIR (RFC 5104 §4.3.1, PSFB FMT 4): one 8-byte entry per stream, SSRC and request sequence number. */
export function writeFir(
  senderSsrc: number,
  entries: readonly { ssrc: number; sequence: number }[],
): Uint8Array {
  const { bytes, view } = rtcpPacket(4, 206, 12 + entries.length * 8, senderSsrc);
  view.setUint32(8, 0); // media source SSRC: unused in FIR (RFC 5104 §4.3.1.2)
  entries.forEach((entry, i) => {
    view.setUint32(12 + i * 8, entry.ssrc);
    bytes[16 + i * 8] = entry.sequence & 0xff;
  });
  return bytes;
}
