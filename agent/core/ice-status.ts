import type { FeedIceStatus } from "./feed-status.js";

/**
 * What health shows of a publication's ICE, from the state and our side of the selected candidate pair
 * (an SDP `candidate:` line, RFC 8839 §5.1). A relay candidate's own transport is the relayed one (UDP);
 * how the media reaches the TURN server (UDP, TCP or TLS) is the server's, so it is passed in.
 */
export function iceStatus(
  state: string,
  localCandidate: string | undefined,
  turnTransport: "udp" | "tcp" | "tls" | undefined,
): FeedIceStatus {
  const status: FeedIceStatus = { state };
  if (!localCandidate) return status;
  const fields = localCandidate
    .replace(/^(a=)?candidate:/, "")
    .trim()
    .split(/\s+/);
  const type = fields[fields.indexOf("typ") + 1];
  if (fields.indexOf("typ") < 0 || !type) return status;
  status.candidateType = type;
  if (type === "relay") {
    status.transport = turnTransport ?? "udp";
    return status;
  }
  const transport = fields[2]?.toLowerCase();
  if (transport === "udp" || transport === "tcp") status.transport = transport;
  return status;
}
