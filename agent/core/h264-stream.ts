/**
 * Reads what an H.264 RTP stream says about itself (RFC 6184 packetization): the sequence parameter
 * set's profile and level, and whether a keyframe went by. Pure; used to prove an encoder by a short
 * real test encode instead of trusting that its element exists.
 */

export interface SequenceParameters {
  profileIdc: number;
  /** The constraint_set flags byte (constraint_set1 = 0x40 marks Constrained Baseline). */
  constraintFlags: number;
  levelIdc: number;
}

export interface StreamFacts {
  sps?: SequenceParameters;
  sawKeyframe: boolean;
  packets: number;
}

const NAL_IDR = 5;
const NAL_SPS = 7;
const STAP_A = 24;
const FU_A = 28;
const RTP_HEADER = 12;

export function emptyStreamFacts(): StreamFacts {
  return { sawKeyframe: false, packets: 0 };
}

/** Adds one RTP packet's NAL units to what is known of the stream. */
export function readH264Packet(facts: StreamFacts, packet: Uint8Array): StreamFacts {
  const payload = rtpPayload(packet);
  const next: StreamFacts = { ...facts, packets: facts.packets + 1 };
  for (const nal of nalUnits(payload)) {
    const type = (nal[0] ?? 0) & 0x1f;
    if (type === NAL_IDR) next.sawKeyframe = true;
    if (type === NAL_SPS && nal.length >= 4) {
      next.sps = { profileIdc: nal[1] ?? 0, constraintFlags: nal[2] ?? 0, levelIdc: nal[3] ?? 0 };
    }
  }
  return next;
}

function rtpPayload(packet: Uint8Array): Uint8Array {
  if (packet.length < RTP_HEADER) return new Uint8Array();
  const csrcs = (packet[0] ?? 0) & 0x0f;
  let offset = RTP_HEADER + csrcs * 4;
  if (((packet[0] ?? 0) & 0x10) !== 0 && packet.length >= offset + 4) {
    const words = ((packet[offset + 2] ?? 0) << 8) | (packet[offset + 3] ?? 0);
    offset += 4 + words * 4;
  }
  return packet.subarray(Math.min(offset, packet.length));
}

/** The NAL units of one payload: a single unit, the units of a STAP-A, or the start of an FU-A. */
function nalUnits(payload: Uint8Array): Uint8Array[] {
  if (payload.length === 0) return [];
  const type = (payload[0] ?? 0) & 0x1f;
  if (type === STAP_A) {
    const units: Uint8Array[] = [];
    let offset = 1;
    while (offset + 2 <= payload.length) {
      const size = ((payload[offset] ?? 0) << 8) | (payload[offset + 1] ?? 0);
      offset += 2;
      if (size === 0 || offset + size > payload.length) break;
      units.push(payload.subarray(offset, offset + size));
      offset += size;
    }
    return units;
  }
  if (type === FU_A) {
    const header = payload[1] ?? 0;
    const starts = (header & 0x80) !== 0;
    // Rebuild the unit's header from the FU indicator and header: enough to read its type.
    return starts
      ? [Uint8Array.of(((payload[0] ?? 0) & 0xe0) | (header & 0x1f), ...payload.subarray(2, 5))]
      : [];
  }
  return [payload];
}

/** Profile names by profile_idc, as browsers and SDP know them. */
export function profileName(sps: SequenceParameters): string {
  if (sps.profileIdc === 66) return (sps.constraintFlags & 0x40) !== 0 ? "constrained-baseline" : "baseline";
  if (sps.profileIdc === 77) return "main";
  if (sps.profileIdc === 100) return "high";
  return `profile_idc ${sps.profileIdc}`;
}

/** What browsers decode in WebRTC: Constrained Baseline, Main and High (4:2:0, 8 bit). */
export function browserDecodable(sps: SequenceParameters): boolean {
  return ["constrained-baseline", "baseline", "main", "high"].includes(profileName(sps));
}
