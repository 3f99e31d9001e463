import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Page } from "playwright-core";
import { launchChromium } from "../test/helpers/chromium.js";

/**
 * A WHIP endpoint whose receiving peer is headless Chromium: the offer is handed to an
 * RTCPeerConnection in a page, its answer (with every candidate: no trickle from hub to client) is the
 * 201. So the transport-wide feedback, jitter buffer and decoder are libwebrtc's, as at a real hub.
 * The page samples getStats every 50 ms; `drain()` hands the samples over.
 */

/** One getStats sample of the received video. */
export interface ReceiverSample {
  /** Wall-clock ms (Date.now()), the clock the bench reads too. */
  t: number;
  framesDecoded: number;
  /** Payload and RTP header bytes received. */
  bytes: number;
  packetsLost: number;
  frameWidth: number;
  /** Seconds, summed over emitted frames (divide by the count for the mean). */
  jitterBufferDelay: number;
  jitterBufferEmittedCount: number;
  freezeCount: number;
  totalFreezesDuration: number;
  nackCount: number;
  pliCount: number;
}

const PAGE = `<!doctype html><video id="v" autoplay muted playsinline></video>`;

export class ChromiumWhipReceiver {
  private browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
  private page: Page | undefined;
  private server: Server | undefined;
  private sessions = 0;

  constructor(private readonly host: string) {}

  get endpoint(): string {
    const address = this.server?.address() as AddressInfo | undefined;
    if (!address) throw new Error("the receiver is not started");
    return `http://${this.host}:${address.port}/whip`;
  }

  async start(): Promise<void> {
    // Real host addresses in the answer, not mDNS names the agent cannot resolve.
    this.browser = await launchChromium(["--disable-features=WebRtcHideLocalIpsWithMdns"]);
    this.page = await this.browser.context.newPage();
    await this.page.setContent(PAGE);
    await this.page.addScriptTag({ content: RECEIVER_SCRIPT });
    this.server = createServer((req, res) => {
      this.handle(req)
        .then(({ status, headers, body }) => res.writeHead(status, headers).end(body))
        .catch((error: unknown) => res.writeHead(500).end(String(error)));
    });
    await new Promise<void>((resolve) => this.server?.listen(0, this.host, resolve));
  }

  /** The samples taken since the last call. */
  async drain(): Promise<ReceiverSample[]> {
    if (!this.page) return [];
    return this.page.evaluate(() => {
      const w = globalThis as unknown as { spokeSamples: unknown[] };
      const samples = w.spokeSamples;
      w.spokeSamples = [];
      return samples as ReceiverSample[];
    });
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => (this.server ? this.server.close(resolve) : resolve(undefined)));
    await this.browser?.close().catch(() => undefined);
  }

  private async handle(
    req: IncomingMessage,
  ): Promise<{ status: number; headers?: Record<string, string>; body?: string }> {
    if (req.method === "POST" && req.url === "/whip") {
      const offer = await readBody(req);
      const answer = await this.page?.evaluate(
        (sdp) => (globalThis as unknown as { spokeAnswer(sdp: string): Promise<string> }).spokeAnswer(sdp),
        offer,
      );
      this.sessions += 1;
      return {
        status: 201,
        headers: { "content-type": "application/sdp", location: `/whip/${this.sessions}` },
        body: answer ?? "",
      };
    }
    if (req.method === "DELETE") return { status: 200 };
    // No trickle: the offer's host candidates are enough on one link.
    return { status: 405 };
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = "";
  for await (const chunk of req) body += chunk;
  return body;
}

/** Runs in the page: the answering peer and the 50 ms getStats sampler. */
const RECEIVER_SCRIPT = `
window.spokeSamples = [];
let pc;
window.spokeAnswer = async (sdp) => {
  if (pc) pc.close();
  const peer = new RTCPeerConnection();
  pc = peer;
  const media = new MediaStream();
  document.getElementById("v").srcObject = media;
  peer.ontrack = (event) => media.addTrack(event.track);
  await peer.setRemoteDescription({ type: "offer", sdp });
  await peer.setLocalDescription(await peer.createAnswer());
  await new Promise((resolve) => {
    if (peer.iceGatheringState === "complete") resolve();
    peer.onicegatheringstatechange = () => {
      if (peer.iceGatheringState === "complete") resolve();
    };
    setTimeout(resolve, 2000);
  });
  return peer.localDescription.sdp;
};
setInterval(async () => {
  if (!pc) return;
  const report = await pc.getStats();
  for (const stat of report.values()) {
    if (stat.type !== "inbound-rtp" || stat.kind !== "video") continue;
    window.spokeSamples.push({
      t: Date.now(),
      framesDecoded: stat.framesDecoded ?? 0,
      bytes: (stat.bytesReceived ?? 0) + (stat.headerBytesReceived ?? 0),
      packetsLost: stat.packetsLost ?? 0,
      frameWidth: stat.frameWidth ?? 0,
      jitterBufferDelay: stat.jitterBufferDelay ?? 0,
      jitterBufferEmittedCount: stat.jitterBufferEmittedCount ?? 0,
      freezeCount: stat.freezeCount ?? 0,
      totalFreezesDuration: stat.totalFreezesDuration ?? 0,
      nackCount: stat.nackCount ?? 0,
      pliCount: stat.pliCount ?? 0,
    });
  }
}, 50);
`;
