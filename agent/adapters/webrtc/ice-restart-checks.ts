import type { RTCPeerConnection } from "werift";

/**
 * Runs ICE connectivity checks again after an ICE restart, which werift 0.24.4 does not do by itself.
 *
 * Why: an ICE restart gives the transport new credentials and clears its selected pair (`nominated`),
 * then werift's `RTCPeerConnection.connect()` skips every transport whose DTLS is still `connected`, so
 * `RTCIceTransport.start()` is never called: no checks, no nominated pair, and `Connection.send()`
 * drops every packet (it needs a nominated pair with fresh consent) while the states read `completed`.
 * On the answering side the checks that arrive are parked as "early checks" until `start()` runs, so
 * both ends need it. Starting the ICE transport ourselves runs the checks, nominates a pair, restarts
 * consent freshness, and the DTLS session (which survives an ICE restart) carries media again.
 */
export function runIceChecksAfterRestart(pc: RTCPeerConnection, onError: (error: unknown) => void): void {
  for (const dtls of pc.dtlsTransports) {
    const ice = dtls.iceTransport;
    if (dtls.state !== "connected" || ice.state === "checking" || ice.state === "closed") continue;
    ice.start().catch(onError);
  }
}
