import { type ChildProcess, spawn } from "node:child_process";
import { createSocket, type Socket } from "node:dgram";
import { freePort } from "../../devhub/mosquitto.js";
import { stopChild } from "./child-process.js";

/**
 * A `gst-launch-1.0` receiving RTP on a loopback port: what the test pushes is decoded by GStreamer, and
 * what GStreamer prints is read line by line by the subclass.
 */
abstract class GstLaunchReceiver {
  private child: ChildProcess | undefined;
  private readonly sender: Socket = createSocket("udp4");
  private port = 0;

  /** The gst-launch arguments for a pipeline whose `udpsrc` listens on `port`. */
  protected abstract launchArgs(port: number): string[];
  /** One line of gst-launch's output. */
  protected abstract read(line: string): void;

  async start(): Promise<void> {
    this.port = await freePort();
    const child = spawn("gst-launch-1.0", this.launchArgs(this.port), { stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    let pending = "";
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) this.read(line);
    });
    // Give udpsrc a moment to bind before packets are sent.
    await new Promise((resolve) => setTimeout(resolve, 500));
  }

  /** Forwards one received RTP packet to the decoder. */
  push(packet: Buffer): void {
    this.sender.send(packet, this.port, "127.0.0.1");
  }

  async stop(): Promise<void> {
    this.sender.close();
    if (this.child) await stopChild(this.child, "SIGKILL");
  }
}

/**
 * A real H.264 decoder for received RTP: `gst-launch-1.0` depayloads and decodes with libav, and
 * `identity` prints one line per decoded frame. Counts frames and reads the decoded size from caps.
 */
export class GstDecoder extends GstLaunchReceiver {
  frames = 0;
  width = 0;
  height = 0;

  protected launchArgs(port: number): string[] {
    const caps = "application/x-rtp,media=video,encoding-name=H264,clock-rate=90000";
    return [
      "-v",
      "udpsrc",
      `port=${port}`,
      "address=127.0.0.1",
      `caps=${caps}`,
      "!",
      "rtpjitterbuffer",
      "latency=50",
      "!",
      "rtph264depay",
      "!",
      "avdec_h264",
      "!",
      "identity",
      "name=decoded",
      "silent=false",
      "!",
      "fakesink",
      "sync=false",
    ];
  }

  protected read(line: string): void {
    if (line.includes("decoded") && line.includes("chain")) this.frames += 1;
    const caps = /avdec_h264.*src: caps = video\/x-raw.*width=\(int\)(\d+), height=\(int\)(\d+)/.exec(line);
    if (caps) {
      this.width = Number(caps[1]);
      this.height = Number(caps[2]);
    }
  }
}

/**
 * A real Opus decoder for received RTP: `gst-launch-1.0` depayloads and decodes with libopus, and a
 * `level` meter after the decoder reports the decoded sound's RMS every half second (`-m` prints each
 * bus message). What was decoded, as heard: one RMS reading (dBFS, loudest channel) per half second.
 */
export class GstOpusDecoder extends GstLaunchReceiver {
  readonly levelsDb: number[] = [];
  channels = 0;

  protected launchArgs(port: number): string[] {
    const caps = "application/x-rtp,media=audio,encoding-name=OPUS,clock-rate=48000";
    // No jitter buffer: loopback keeps order, and one in front of the depayloader held every packet here.
    const launch = `udpsrc port=${port} address=127.0.0.1 caps=${caps} ! rtpopusdepay ! opusdec ! level interval=500000000 ! fakesink sync=false`;
    return ["-m", ...launch.split(" ")];
  }

  protected read(line: string): void {
    const rms = /"level0" \(element\): level,.* rms=\(GValueArray\)< ([^>]*) >/.exec(line)?.[1];
    if (!rms) return;
    const channels = rms.split(",").map(Number);
    this.channels = channels.length;
    this.levelsDb.push(Math.max(...channels));
  }
}
