import { type ChildProcess, spawn } from "node:child_process";
import { createSocket, type Socket } from "node:dgram";
import type { AddressInfo } from "node:net";
import { stopChild } from "./child-process.js";

/**
 * A GStreamer test feed as RTP, for a publisher driven without the agent: `gst-launch-1.0` encodes a
 * test picture with x264 (keyframe every second, 1200-byte packets, SPS/PPS with every keyframe) and,
 * when asked, a sine tone with Opus, and sends both to loopback sockets whose packets go to the callbacks.
 */
export class GstRtpSource {
  private child: ChildProcess | undefined;
  private readonly sockets: Socket[] = [];
  /** Packets GStreamer sent so far (video and audio). */
  packets = 0;

  constructor(
    private readonly onVideo: (packet: Buffer) => void,
    private readonly onAudio?: (packet: Buffer) => void,
  ) {}

  async start(): Promise<void> {
    const videoPort = await this.listen(this.onVideo);
    const video = [
      "videotestsrc is-live=true pattern=ball ! video/x-raw,width=640,height=360,framerate=30/1",
      "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 bitrate=800",
      "video/x-h264,profile=constrained-baseline",
      `rtph264pay pt=96 mtu=1200 config-interval=-1 ! udpsink host=127.0.0.1 port=${videoPort}`,
    ].join(" ! ");
    let launch = video;
    if (this.onAudio) {
      const audioPort = await this.listen(this.onAudio);
      launch += ` audiotestsrc is-live=true wave=sine freq=440 ! audioconvert ! audioresample ! opusenc ! rtpopuspay pt=111 ! udpsink host=127.0.0.1 port=${audioPort}`;
    }
    this.child = spawn("gst-launch-1.0", ["-q", ...launch.split(" ")], { stdio: "ignore" });
  }

  async stop(): Promise<void> {
    if (this.child) await stopChild(this.child, "SIGKILL");
    for (const socket of this.sockets) socket.close();
  }

  private async listen(onPacket: (packet: Buffer) => void): Promise<number> {
    const socket = createSocket("udp4");
    this.sockets.push(socket);
    socket.on("message", (packet) => {
      this.packets += 1;
      onPacket(packet);
    });
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
    return (socket.address() as AddressInfo).port;
  }
}
