/**
 * RTP header rewriting on the bytes, for a stack that sends the packet as given (node-datachannel): the
 * negotiated SSRC and payload type, sequence and timestamp re-based across an encoder restart, and our
 * own transport-wide sequence number (RFC 8285 one-byte extension). The payload is never touched.
 */

export interface RtpRewrite {
  ssrc: number;
  payloadType: number;
  sequence: number;
  timestamp: number;
  /** The negotiated extension id and the number to write; absent: no transport-wide number. */
  transportWide?: { id: number; sequence: number };
}

/** The RTP header fields a sender re-bases on: read from the packet as the worker sent it. */
export interface RtpHead {
  sequence: number;
  timestamp: number;
}

const FIXED_HEADER = 12;
const ONE_BYTE_PROFILE = 0xbede;

export function readRtpHead(packet: Buffer): RtpHead {
  return { sequence: packet.readUInt16BE(2), timestamp: packet.readUInt32BE(4) };
}

/**
 * The packet with the header fields rewritten. Without a transport-wide number the packet's own bytes
 * are changed and returned (no copy); with one, a new buffer with the extension block written afresh
 * (the packet's other one-byte elements kept). A packet that already has a two-byte extension block
 * keeps it and gets no number: our worker never sends one.
 */
export function rewriteRtp(packet: Buffer, rewrite: RtpRewrite): Buffer {
  const csrcBytes = 4 * ((packet[0] ?? 0) & 0x0f);
  const headerEnd = FIXED_HEADER + csrcBytes;
  const hasExtension = ((packet[0] ?? 0) & 0x10) !== 0;
  const extensionEnd = hasExtension ? headerEnd + 4 + 4 * packet.readUInt16BE(headerEnd + 2) : headerEnd;
  const wide = rewrite.transportWide;
  const oneByte = !hasExtension || packet.readUInt16BE(headerEnd) === ONE_BYTE_PROFILE;
  const out =
    wide && oneByte ? withTransportWide(packet, headerEnd, extensionEnd, hasExtension, wide) : packet;
  out[1] = ((out[1] ?? 0) & 0x80) | (rewrite.payloadType & 0x7f);
  out.writeUInt16BE(rewrite.sequence & 0xffff, 2);
  out.writeUInt32BE(rewrite.timestamp >>> 0, 4);
  out.writeUInt32BE(rewrite.ssrc >>> 0, 8);
  return out;
}

function withTransportWide(
  packet: Buffer,
  headerEnd: number,
  extensionEnd: number,
  hasExtension: boolean,
  wide: { id: number; sequence: number },
): Buffer {
  const kept = hasExtension ? keptElements(packet.subarray(headerEnd + 4, extensionEnd), wide.id) : [];
  const elementBytes = kept.reduce((sum, element) => sum + element.length, 0) + 3;
  const blockBytes = Math.ceil(elementBytes / 4) * 4;
  const payload = packet.subarray(extensionEnd);
  const out = Buffer.alloc(headerEnd + 4 + blockBytes + payload.length);
  packet.copy(out, 0, 0, headerEnd);
  out[0] = (out[0] ?? 0) | 0x10;
  out.writeUInt16BE(ONE_BYTE_PROFILE, headerEnd);
  out.writeUInt16BE(blockBytes / 4, headerEnd + 2);
  let offset = headerEnd + 4;
  for (const element of kept) offset += element.copy(out, offset);
  out[offset] = (wide.id << 4) | 1;
  out.writeUInt16BE(wide.sequence & 0xffff, offset + 1);
  payload.copy(out, headerEnd + 4 + blockBytes);
  return out;
}

/** The one-byte elements of an extension block, without padding and without the element `dropId`. */
function keptElements(block: Buffer, dropId: number): Buffer[] {
  const elements: Buffer[] = [];
  let offset = 0;
  while (offset < block.length) {
    const byte = block[offset] ?? 0;
    if (byte === 0) {
      offset += 1;
      continue;
    }
    const id = byte >> 4;
    if (id === 15) break;
    const length = (byte & 0x0f) + 1;
    if (offset + 1 + length > block.length) break;
    if (id !== dropId) elements.push(block.subarray(offset, offset + 1 + length));
    offset += 1 + length;
  }
  return elements;
}
