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
