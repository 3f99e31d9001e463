import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import type { Logger } from "pino";

/**
 * A UDP port on 127.0.0.1 that a feed worker's `udpsink` sends RTP to, bound before the pipeline starts
 * so that nothing else can take it. The port takes datagrams from any local process: only RTP from the
 * one sender that spoke first (the worker) is passed on, so a stray or malicious datagram is neither
 * forwarded into the clinical stream nor given to the RTP parser. One per media kind (video, audio).
 */
/**
 * The socket's receive buffer. The default (about 208 kB, some 90 datagrams of 1.2 kB in kernel
 * accounting) overflows whenever the event loop is busy for a moment while a keyframe arrives: at a
 * session's start (DTLS, three peers at once) the worker's forced keyframe was losing up to 170
 * packets a feed here, before the pacer, where no NACK can bring them back. 4 MB is over a second of
 * a 20 Mbit/s feed. The kernel caps it at `net.core.rmem_max` (docs/webrtc.md, "Start time").
 */
export const RTP_RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

export class LoopbackRtpSocket {
  private readonly socket: Socket = createSocket({ type: "udp4", recvBufferSize: RTP_RECEIVE_BUFFER_BYTES });
  private sender: string | undefined;
  private closed = false;

  private constructor(kind: string, log: Logger) {
    this.socket.on("error", (error) => log.warn({ error: error.message, kind }, "RTP socket error"));
  }

  static async bind(kind: "video" | "audio", log: Logger): Promise<LoopbackRtpSocket> {
    const created = new LoopbackRtpSocket(kind, log);
    await new Promise<void>((resolve) => created.socket.bind(0, "127.0.0.1", resolve));
    return created;
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** Calls `handler` with each RTP packet from the worker. */
  onPacket(handler: (packet: Buffer) => void): void {
    this.socket.on("message", (packet, from) => {
      if (this.accepts(packet, from)) handler(packet);
    });
  }

  /** Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
  }

  private accepts(packet: Buffer, from: RemoteInfo): boolean {
    const isRtp = packet.length >= RTP_HEADER_BYTES && (packet[0] ?? 0) >> 6 === 2;
    if (!isRtp) return false;
    const address = `${from.address}:${from.port}`;
    this.sender ??= address;
    return address === this.sender;
  }
}

const RTP_HEADER_BYTES = 12;
