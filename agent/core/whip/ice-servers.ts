import { type IceServerConfig, normaliseIceUrl } from "./link-header.js";

/**
 * Which ICE servers a publication uses, and when the hub's own (from its WHIP 201) call for an ICE
 * restart. WHIP names the hub's servers only after the offer has left, so a hub reachable only through
 * its TURN server cannot be reached by the first offer unless the site configured a TURN server too.
 */

/** The configured servers with their URLs in normal form (explicit port and transport), as the stack reads them. */
export function normalisedServers(servers: readonly IceServerConfig[]): IceServerConfig[] {
  const result: IceServerConfig[] = [];
  for (const server of servers) {
    const urls = normaliseIceUrl(server.urls);
    if (urls) result.push({ ...server, urls });
  }
  return result;
}

function isTurn(server: IceServerConfig): boolean {
  return server.urls.startsWith("turn:") || server.urls.startsWith("turns:");
}

/** The hub's TURN servers that the offer was not gathered with (same URL and user name). */
export function turnServersNotOffered(
  offered: readonly IceServerConfig[],
  hub: readonly IceServerConfig[],
): IceServerConfig[] {
  const known = new Set(offered.filter(isTurn).map((server) => `${server.urls} ${server.username ?? ""}`));
  return hub.filter((server) => isTurn(server) && !known.has(`${server.urls} ${server.username ?? ""}`));
}

/**
 * The servers an ICE restart gathers with: the hub's first (the stack takes the first STUN and the first
 * TURN of the list), then the configured ones for a kind the hub named none of.
 */
export function restartServers(
  configured: readonly IceServerConfig[],
  hub: readonly IceServerConfig[],
): IceServerConfig[] {
  return [...hub, ...configured];
}

/**
 * How long ICE may try with the offer's candidates before the hub's TURN servers are tried. Host pairs
 * on a LAN or loopback connect within tens of ms, and a hub reachable only through its relay never does:
 * 2 s. An offer gathered with a TURN server of the site's own gets longer, as its relay may still be on
 * its way (TCP, TLS and an authenticated allocation over a slow uplink), and a restart would drop it.
 */
export function hubTurnGraceMs(offered: readonly IceServerConfig[]): number {
  return offered.some(isTurn) ? 6_000 : 2_000;
}

/** ICE states in which media can flow; anything else after the grace time means the path is not there. */
const CONNECTED_STATES = new Set(["connected", "completed"]);

/**
 * Whether to restart ICE now with the hub's TURN servers: the 201 named TURN servers the offer did not
 * have, and ICE has not connected within the grace time (checked when it has passed). A closed peer is
 * left alone.
 */
export function shouldRestartForHubTurn(input: {
  offered: readonly IceServerConfig[];
  hub: readonly IceServerConfig[];
  iceState: string;
}): boolean {
  if (input.iceState === "closed" || CONNECTED_STATES.has(input.iceState)) return false;
  return turnServersNotOffered(input.offered, input.hub).length > 0;
}
