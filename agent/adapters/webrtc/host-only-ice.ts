import type { NetworkInterfaceInfo } from "node:os";
import type { RTCPeerConnection } from "werift";

/**
 * For a peer configured with `iceServers: []`: keeps werift from asking a STUN server anyway.
 *
 * werift 0.24 drops an empty `iceServers` at the ICE layer: each ICE connection then falls back to
 * Google's public STUN server (stun.l.google.com:19302) on its own (shinyoshiaki/werift-webrtc#691).
 * The fallback is read when candidates are gathered, so clearing it works after the transports exist
 * (addTransceiver, or setRemoteDescription on the answering side) and before setLocalDescription.
 */
export function dropStunFallback(pc: RTCPeerConnection): void {
  for (const transport of pc.iceTransports) transport.connection.stunServer = undefined;
}

/**
 * Interface name prefixes werift 0.24 leaves out of host candidates (its `selectAddressesFromInterfaces`,
 * after Chromium's "costly" and banned networks). A box that reaches its hub over an OpenVPN `tun0`,
 * an IPsec tunnel or a veth into a namespace needs them: their addresses go in as additional host
 * addresses instead.
 */
const WERIFT_SKIPPED_PREFIXES = ["ipsec", "tun", "utun", "tap", "vmnet", "veth"];

/** The usable addresses (not loopback, not link-local) of the interfaces werift skips. */
export function skippedInterfaceAddresses(interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>): string[] {
  const addresses: string[] = [];
  for (const [name, infos] of Object.entries(interfaces)) {
    if (!WERIFT_SKIPPED_PREFIXES.some((prefix) => name.startsWith(prefix))) continue;
    for (const info of infos ?? []) {
      if (info.internal) continue;
      if (info.family === "IPv4" && !info.address.startsWith("169.254.")) addresses.push(info.address);
      if (info.family === "IPv6" && !/^fe[89ab]/i.test(info.address)) addresses.push(info.address);
    }
  }
  return [...new Set(addresses)];
}

/** What werift reads from an ICE server list, for an existing ICE connection (before a restart). */
export interface IceConnectionServers {
  stun?: [string, number];
  turn?: { address: [string, number]; username: string; password: string; transport: "udp" | "tcp" | "tls" };
}

/**
 * werift uses the first STUN and the first TURN server of a list; URLs are in the normal form of
 * `normaliseIceUrl` (explicit port, explicit transport).
 */
export function iceConnectionServers(
  servers: readonly { urls: string; username?: string; credential?: string }[],
): IceConnectionServers {
  const result: IceConnectionServers = {};
  for (const server of servers) {
    const match = /^(stun|turns?):(\[[^\]]+\]|[^:?]+):(\d+)(?:\?transport=(udp|tcp))?$/.exec(server.urls);
    if (!match) continue;
    const [, scheme, rawHost = "", port] = match;
    const host = rawHost.replace(/^\[|\]$/g, "");
    const address: [string, number] = [host, Number(port)];
    if (scheme === "stun") result.stun ??= address;
    else if (!result.turn && server.username !== undefined && server.credential !== undefined) {
      const transport = scheme === "turns" ? "tls" : match[4] === "tcp" ? "tcp" : "udp";
      result.turn = { address, username: server.username, password: server.credential, transport };
    }
  }
  return result;
}

/**
 * Points the peer's ICE connections at these servers: werift reads its servers when a transport is
 * made, so servers learnt later (from the WHIP 201) are set on the connections, and the next gathering
 * (an ICE restart) uses them.
 */
export function useIceServers(pc: RTCPeerConnection, servers: IceConnectionServers): void {
  for (const transport of pc.iceTransports) {
    const connection = transport.connection as unknown as {
      stunServer?: [string, number];
      turnServer?: [string, number];
      options: { turnUsername?: string; turnPassword?: string; turnTransport?: string };
    };
    connection.stunServer = servers.stun;
    if (servers.turn) {
      connection.turnServer = servers.turn.address;
      connection.options.turnUsername = servers.turn.username;
      connection.options.turnPassword = servers.turn.password;
      connection.options.turnTransport = servers.turn.transport;
    }
  }
}

/** The candidate pair ICE nominated: what carries the media (for tests and health). */
export interface SelectedCandidatePair {
  /** host, srflx, prflx or relay */
  local: string;
  remote: string;
  /** For a relay candidate: how we reach the TURN server (UDP, TCP or TLS). */
  relayTransport?: string;
}

interface WeriftNominatedPair {
  localCandidate: { type: string };
  remoteCandidate: { type: string };
  protocol: { type: string; turn?: { transport: { type: string } } };
}

/** The nominated pair of the peer's (bundled) ICE connection, once ICE has nominated one. */
export function selectedCandidatePair(pc: RTCPeerConnection): SelectedCandidatePair | undefined {
  const connection = pc.iceTransports[0]?.connection as unknown as { nominated?: WeriftNominatedPair };
  const pair = connection?.nominated;
  if (!pair) return undefined;
  const relayTransport = pair.protocol.turn?.transport.type;
  return {
    local: pair.localCandidate.type,
    remote: pair.remoteCandidate.type,
    ...(relayTransport !== undefined && { relayTransport }),
  };
}

/** Whether a local candidate may be signalled under the ICE transport policy (`relay`: relay ones only). */
export function candidateAllowed(candidate: string, policy: "all" | "relay" = "all"): boolean {
  return policy === "all" || / typ relay(?: |$)/.test(candidate);
}

/**
 * werift's `relay` policy stops its ordinary checks on host pairs but still runs its frozen ones, and
 * gathers host candidates while it has no TURN server: a pair filter keeps every check on a relay.
 */
export function relayPairsOnly(pair: { localCandidate: { type: string } }): boolean {
  return pair.localCandidate.type === "relay";
}
