/**
 * Trickle ICE and ICE restart bodies for WHIP PATCH requests: `application/trickle-ice-sdpfrag`
 * (RFC 8840 §4.4, RFC 9725 §4.3), and the SDP bookkeeping around them. Pure text work.
 */

/** The ICE side of a local offer: what an sdpfrag must name. */
export interface OfferIce {
  ufrag: string;
  pwd: string;
  /** The media sections, in order: their `m=` line (port 9) and `a=mid`. */
  media: { mLine: string; mid: string }[];
  /** The `a=group:BUNDLE …` line, when the offer has one. */
  bundle?: string;
}

function lines(sdp: string): string[] {
  return sdp.split(/\r?\n/).filter((line) => line.length > 0);
}

/** Reads ufrag, pwd and media sections from an SDP (an offer, or an sdpfrag). */
export function readOfferIce(sdp: string): OfferIce | undefined {
  let ufrag: string | undefined;
  let pwd: string | undefined;
  let bundle: string | undefined;
  const media: { mLine: string; mid: string }[] = [];
  let current: { mLine: string; mid: string } | undefined;
  for (const line of lines(sdp)) {
    if (line.startsWith("m=")) {
      const [kind, , proto, ...formats] = line.slice(2).split(" ");
      current = { mLine: `m=${kind} 9 ${proto} ${formats.join(" ")}`.trimEnd(), mid: "" };
      media.push(current);
    } else if (line.startsWith("a=mid:") && current) current.mid = line.slice(6).trim();
    else if (line.startsWith("a=ice-ufrag:")) ufrag ??= line.slice(12).trim();
    else if (line.startsWith("a=ice-pwd:")) pwd ??= line.slice(10).trim();
    else if (line.startsWith("a=group:BUNDLE")) bundle ??= line.trim();
  }
  if (!ufrag || !pwd) return undefined;
  return bundle ? { ufrag, pwd, media, bundle } : { ufrag, pwd, media };
}

/**
 * The sdpfrag for a trickle PATCH or an ICE restart. With BUNDLE, the candidates belong to the first
 * (tagged) section; without it each section gets them (one transport per section is not something
 * the publisher does, but the body stays valid).
 */
export function buildSdpFrag(
  ice: OfferIce,
  candidates: readonly string[],
  options: { endOfCandidates: boolean },
): string {
  const out: string[] = [];
  if (ice.bundle) out.push(ice.bundle);
  out.push(`a=ice-ufrag:${ice.ufrag}`, `a=ice-pwd:${ice.pwd}`);
  const sections = ice.bundle ? ice.media.slice(0, 1) : ice.media;
  for (const section of sections) {
    out.push(section.mLine, `a=mid:${section.mid}`);
    for (const candidate of candidates) out.push(candidateLine(candidate));
    if (options.endOfCandidates) out.push("a=end-of-candidates");
  }
  return `${out.join("\r\n")}\r\n`;
}

/** `candidate:…` as werift and browsers give it, or already an `a=` line: always an `a=candidate:` line. */
export function candidateLine(candidate: string): string {
  const text = candidate.trim();
  if (text.startsWith("a=")) return text;
  return text.startsWith("candidate:") ? `a=${text}` : `a=candidate:${text}`;
}

/** What the hub sent back for an ICE restart: its new credentials and, if it lists them, its candidates. */
export interface RemoteIce {
  ufrag: string;
  pwd: string;
  candidates: string[];
}

export function readRemoteIce(sdpfrag: string): RemoteIce | undefined {
  const ice = readOfferIce(sdpfrag);
  if (!ice) return undefined;
  const candidates = lines(sdpfrag).filter((line) => line.startsWith("a=candidate:"));
  return { ufrag: ice.ufrag, pwd: ice.pwd, candidates };
}

/**
 * The hub's answer as it stands after an ICE restart: its new ufrag and pwd in every section, and its
 * candidates replaced by the ones it sent (kept when it sent none: its addresses did not change).
 */
export function applyRemoteIce(answerSdp: string, remote: RemoteIce): string {
  const eol = answerSdp.includes("\r\n") ? "\r\n" : "\n";
  const replaceCandidates = remote.candidates.length > 0;
  const out: string[] = [];
  let inMedia = false;
  let candidatesPlaced = false;
  const flushCandidates = () => {
    if (inMedia && replaceCandidates && !candidatesPlaced) {
      out.push(...remote.candidates);
      candidatesPlaced = true;
    }
  };
  for (const line of lines(answerSdp)) {
    if (line.startsWith("m=")) {
      flushCandidates();
      inMedia = true;
      candidatesPlaced = false;
    }
    if (line.startsWith("a=ice-ufrag:")) out.push(`a=ice-ufrag:${remote.ufrag}`);
    else if (line.startsWith("a=ice-pwd:")) out.push(`a=ice-pwd:${remote.pwd}`);
    else if (replaceCandidates && (line.startsWith("a=candidate:") || line === "a=end-of-candidates")) {
      if (line === "a=end-of-candidates") {
        flushCandidates();
        out.push(line);
      }
    } else out.push(line);
  }
  flushCandidates();
  return `${out.join(eol)}${eol}`;
}

/**
 * Puts candidates into an offer that lacks them (a stack gathering in the background writes only the
 * ones it had when the offer was made): into each media section, skipping those already there.
 */
export function withCandidates(sdp: string, candidates: readonly string[], complete: boolean): string {
  const eol = sdp.includes("\r\n") ? "\r\n" : "\n";
  const out: string[] = [];
  let section: string[] | undefined;
  const sections: string[][] = [];
  for (const line of lines(sdp)) {
    if (line.startsWith("m=")) {
      section = [line];
      sections.push(section);
    } else if (section) section.push(line);
    else out.push(line);
  }
  for (const media of sections) {
    const present = new Set(media.filter((line) => line.startsWith("a=candidate:")));
    const added = candidates.map(candidateLine).filter((line) => !present.has(line));
    const hasEnd = media.includes("a=end-of-candidates");
    const body = media.filter((line) => line !== "a=end-of-candidates");
    out.push(...body, ...added);
    if (complete || hasEnd) out.push("a=end-of-candidates");
  }
  return `${out.join(eol)}${eol}`;
}
