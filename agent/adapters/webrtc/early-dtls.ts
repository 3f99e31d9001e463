import type { RTCDtlsTransport, RTCPeerConnection } from "werift";

/**
 * Keeps the hub's first DTLS ClientHello for werift 0.24.4, which otherwise drops it, and hands it to
 * werift's DTLS server the moment that server exists.
 *
 * Why: the hub (the WHIP answerer, `a=setup:active`) is the DTLS client and sends its ClientHello as
 * soon as its own ICE is up, often before our POST has even returned its 201 (it answers our offer's
 * candidates, and werift answers its checks early). werift only creates its DTLS server once its own
 * ICE `connect()` has returned (after the answer, its checks and nomination), and until then the ICE
 * connection's data has no DTLS listener: every ClientHello is dropped, and the handshake waits for the
 * client's next retransmission, whose timer doubles each time (50, 100, 200, 400, 800 ms… in
 * libwebrtc). Replayed, it is answered as the server starts: in werift's debug log (one feed) DTLS was
 * up 0.18 s after ICE.
 *
 * Only a ClientHello is kept (the latest: a retransmission carries the same handshake), only while the
 * transport is `new`, and it is given only to a DTLS server: as a client werift speaks first.
 */
export function replayEarlyClientHello(pc: RTCPeerConnection): void {
  for (const dtls of pc.dtlsTransports) keepClientHello(dtls);
}

const CONTENT_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
/** Content type (1), version (2), epoch (2), sequence number (6), length (2): the handshake type follows. */
const RECORD_HEADER_BYTES = 13;

/** A DTLS record carrying (the start of) a ClientHello, epoch 0. */
export function isClientHello(packet: Uint8Array): boolean {
  return (
    packet.length > RECORD_HEADER_BYTES &&
    packet[0] === CONTENT_HANDSHAKE &&
    packet[RECORD_HEADER_BYTES] === HANDSHAKE_CLIENT_HELLO
  );
}

function keepClientHello(dtls: RTCDtlsTransport): void {
  const connection = dtls.iceTransport.connection;
  let early: Buffer | undefined;
  const received = connection.onData.subscribe((packet: Buffer) => {
    if (dtls.state === "new" && isClientHello(packet)) early = packet;
  });
  const states = dtls.onStateChange.subscribe((state) => {
    if (state === "new") return;
    received.unSubscribe();
    states.unSubscribe();
    const packet = early;
    early = undefined;
    if (state !== "connecting" || !packet) return;
    // `start()` makes its DTLS server right after this state change, in the same turn; the server's
    // transport listens to the ICE connection's data from then on.
    setImmediate(() => {
      if (dtls.state === "connecting" && dtls.role === "server") connection.onData.execute(packet);
    });
  });
}
