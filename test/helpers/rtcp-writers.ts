/** RTCP a receiver would send, built for tests: receiver reports and REMB. */

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
  const bytes = new Uint8Array(8 + blocks.length * 24);
  const view = new DataView(bytes.buffer);
  bytes[0] = 0x80 | blocks.length;
  bytes[1] = 201;
  view.setUint16(2, bytes.length / 4 - 1);
  view.setUint32(4, senderSsrc);
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
  const bytes = new Uint8Array(20 + ssrcs.length * 4);
  const view = new DataView(bytes.buffer);
  bytes[0] = 0x80 | 15;
  bytes[1] = 206;
  view.setUint16(2, bytes.length / 4 - 1);
  view.setUint32(4, senderSsrc);
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
  const bytes = new Uint8Array(12 + entries.length * 8);
  const view = new DataView(bytes.buffer);
  bytes[0] = 0x80 | 4;
  bytes[1] = 206;
  view.setUint16(2, bytes.length / 4 - 1);
  view.setUint32(4, senderSsrc);
  view.setUint32(8, 0); // media source SSRC: unused in FIR (RFC 5104 §4.3.1.2)
  entries.forEach((entry, i) => {
    view.setUint32(12 + i * 8, entry.ssrc);
    bytes[16 + i * 8] = entry.sequence & 0xff;
  });
  return bytes;
}
