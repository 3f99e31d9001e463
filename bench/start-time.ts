/**
 * Press → first decoded frame at the hub: runs the compiled agent as its own process with N test feeds,
 * each published by WHIP to a hub whose receiving peer is headless Chromium, presses start over the
 * control socket and times, per feed, each step from the agent's session start (its own log line of
 * the state change) to Chromium's first decoded frame. Stops, lets the agent go idle (its spare workers
 * come back), and repeats.
 *
 *   npm run bench:start -- [--runs 5] [--feeds 3] [--width 1280 --height 720] [--idle 4]
 *
 * Prints p50/p95 of session start → first frame over every feed of every run, the same from the press
 * (the control command sent), and the median of each step: worker running (first RTP from the worker),
 * POST at the hub, 201 sent, ICE connected and DTLS connected (Chromium's peer), first RTP and first
 * decoded frame (Chromium's getStats, polled every 5 ms). All times are wall-clock ms on one machine.
 */
import type { ChildProcess } from "node:child_process";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { loadavg } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import type { Page } from "playwright-core";
import { sendControlCommand } from "../agent/adapters/control/control-client.js";
import { readBody } from "../devhub/http.js";
import { exited, spawnAgent, waitForControlSocket } from "../test/helpers/agent-process.js";
import { launchChromium } from "../test/helpers/chromium.js";
import { benchConfigFromArgs, feedOptions } from "./bench-config.js";
import { percentile } from "./stats.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    ...feedOptions(3),
    idle: { type: "string", default: "4" },
  },
});

const STEPS = [
  "worker",
  "post",
  "answered",
  "agentIce",
  "ice",
  "agentConnected",
  "dtls",
  "rtp",
  "pli",
  "frame",
] as const;
type Step = (typeof STEPS)[number];
const STEP_NAMES: Record<Step, string> = {
  worker: "worker running (first RTP from it)",
  post: "POST at the hub",
  answered: "201 sent",
  agentIce: "ICE connected (agent)",
  ice: "ICE connected (Chromium)",
  agentConnected: "DTLS connected (agent)",
  dtls: "DTLS connected (Chromium)",
  rtp: "first RTP at Chromium",
  pli: "first PLI sent by Chromium",
  frame: "first frame decoded",
};

/** Wall-clock ms with sub-ms resolution, comparable with the page's and with pino's `time`. */
const now = () => performance.timeOrigin + performance.now();

/**
 * The page's side, served as its script (plain JS, so no transpiler helper ends up in the browser): one
 * receiving peer per offer, and the times it saw each step, on the page's wall clock.
 */
const PAGE = `<!doctype html><title>spoke start bench</title><script>
const peers = {};
window.times = {};
const at = () => performance.timeOrigin + performance.now();
async function poll(feed, pc, times) {
  while (peers[feed] === pc && times.frame === undefined) {
    const report = await pc.getStats();
    for (const stat of report.values()) {
      if (stat.type !== "inbound-rtp" || stat.kind !== "video") continue;
      if ((stat.packetsReceived ?? 0) > 0) times.rtp ??= at();
      if ((stat.pliCount ?? 0) > 0) times.pli ??= at();
      if ((stat.framesDecoded ?? 0) > 0) {
        times.frame ??= at();
        times.plisBeforeFrame = stat.pliCount ?? 0;
        times.nacksBeforeFrame = stat.nackCount ?? 0;
        times.lostBeforeFrame = stat.packetsLost ?? 0;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
window.answerOffer = async (feed, offer) => {
  peers[feed]?.close();
  const pc = new RTCPeerConnection();
  peers[feed] = pc;
  const times = {};
  window.times[feed] = times;
  pc.addEventListener("iceconnectionstatechange", () => {
    if (pc.iceConnectionState === "connected") times.ice ??= at();
  });
  pc.addEventListener("connectionstatechange", () => {
    if (pc.connectionState === "connected") times.dtls ??= at();
  });
  await pc.setRemoteDescription({ type: "offer", sdp: offer });
  await pc.setLocalDescription(await pc.createAnswer());
  if (pc.iceGatheringState !== "complete") {
    await new Promise((resolve) =>
      pc.addEventListener("icegatheringstatechange", () => {
        if (pc.iceGatheringState === "complete") resolve();
      }),
    );
  }
  poll(feed, pc, times);
  return pc.localDescription.sdp;
};
window.closePeer = (feed) => {
  peers[feed]?.close();
  delete peers[feed];
};
</script>`;

type PageWindow = {
  answerOffer(feed: string, offer: string): Promise<string>;
  closePeer(feed: string): void;
  times: Record<string, Record<string, number>>;
};

/** A WHIP endpoint per feed that hands each offer to the page and answers with its SDP. */
function startHub(page: Page, hubTimes: Map<string, Partial<Record<Step, number>>>) {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method === "GET" && req.url === "/") {
      return void res.writeHead(200, { "content-type": "text/html" }).end(PAGE);
    }
    const match = /^\/whip\/([\w-]+)(?:\/(\w+))?$/.exec(req.url ?? "");
    const feed = match?.[1];
    if (!feed) return void res.writeHead(404).end();
    if (req.method === "PATCH") return void res.writeHead(204).end();
    if (req.method === "DELETE") {
      page.evaluate((id) => (globalThis as unknown as PageWindow).closePeer(id), feed).catch(() => undefined);
      return void res.writeHead(200).end();
    }
    if (req.method !== "POST") return void res.writeHead(405).end();
    const post = now();
    readBody(req)
      .then((offer) =>
        page.evaluate(([id, sdp]) => (globalThis as unknown as PageWindow).answerOffer(id, sdp), [
          feed,
          offer,
        ] as const),
      )
      .then((answer) => {
        hubTimes.set(feed, { post, answered: now() });
        res
          .writeHead(201, {
            "content-type": "application/sdp",
            location: `/whip/${feed}/s${Math.round(post)}`,
          })
          .end(answer);
      })
      .catch((error: unknown) => {
        console.error(`hub: cannot answer ${feed}: ${String(error)}`);
        res.writeHead(500).end(String(error));
      });
  });
  return new Promise<{ url: string; close(): Promise<void> }>((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () => {
          server.closeAllConnections();
          return new Promise((done) => server.close(() => done()));
        },
      });
    });
  });
}

/** The agent's own log lines, as JSON, to take its session start and workers' first RTP from. */
function watchAgentLog(agent: ChildProcess, onLine: (line: Record<string, unknown>) => void): void {
  let pending = "";
  agent.stdout?.on("data", (chunk: Buffer) => {
    pending += chunk.toString("utf8");
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) {
      try {
        onLine(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
  });
}

const sortedOf = (list: readonly number[]) => [...list].sort((a, b) => a - b);

interface RunFeed {
  feed: string;
  steps: Partial<Record<Step, number>>;
}

async function main(): Promise<void> {
  const feedCount = Number(values.feeds);
  const browser = await launchChromium();
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  const hubTimes = new Map<string, Partial<Record<Step, number>>>();
  const hub = await startHub(page, hubTimes);
  await page.goto(`${hub.url}/`);
  const { config: base, dir } = benchConfigFromArgs(values, `${hub.url}/whip/x`);
  const config = {
    ...base,
    logLevel: "info" as const,
    feeds: base.feeds.map((feed) => ({ ...feed, whip: { ...feed.whip, url: `${hub.url}/whip/${feed.id}` } })),
  };
  const feedIds = config.feeds.map((feed) => feed.id);
  let sessionStart: number | undefined;
  let idleAt: number | undefined;
  const workerAt = new Map<string, number>();
  const agentIceAt = new Map<string, number>();
  const agentConnectedAt = new Map<string, number>();
  const agent = spawnAgent(config, dir, { from: "dist" });
  watchAgentLog(agent, (line) => {
    const time = Number(line.time);
    if (line.msg === "session state" && line.to === "starting") sessionStart = time;
    if (line.msg === "session state" && line.to === "idle") idleAt = time;
    if (typeof line.feed !== "string") return;
    if (line.msg === "feed worker running") workerAt.set(line.feed, time);
    if (line.msg === "ICE connected") agentIceAt.set(line.feed, time);
    if (line.msg === "WebRTC connected: media can flow") agentConnectedAt.set(line.feed, time);
  });
  const results: RunFeed[][] = [];
  const fromPress: number[] = [];
  const pageCounts: Record<string, number>[] = [];
  try {
    await waitForControlSocket(config.control.socketPath);
    for (let run = 0; run < Number(values.runs); run += 1) {
      // Idle as a box would be between sessions: spare workers forked and loaded.
      await sleep(Number(values.idle) * 1000);
      sessionStart = undefined;
      workerAt.clear();
      agentIceAt.clear();
      agentConnectedAt.clear();
      hubTimes.clear();
      const pressedAt = now();
      await sendControlCommand(config.control.socketPath, "start");
      const deadline = pressedAt + 30_000;
      let pageTimes: Record<string, Record<string, number>> = {};
      while (now() < deadline) {
        pageTimes = await page.evaluate(() => (globalThis as unknown as PageWindow).times);
        if (feedIds.every((id) => pageTimes[id]?.frame !== undefined && hubTimes.has(id))) break;
        await sleep(50);
      }
      if (sessionStart === undefined) throw new Error("the agent logged no session start");
      const start = sessionStart;
      const feeds = feedIds.map((feed): RunFeed => {
        const absolute = {
          worker: workerAt.get(feed),
          agentIce: agentIceAt.get(feed),
          agentConnected: agentConnectedAt.get(feed),
          ...hubTimes.get(feed),
          ...pageTimes[feed],
        };
        const steps: Partial<Record<Step, number>> = {};
        for (const step of STEPS) {
          const at = absolute[step];
          if (at !== undefined) steps[step] = at - start;
        }
        return { feed, steps };
      });
      results.push(feeds);
      for (const id of feedIds) if (pageTimes[id]) pageCounts.push(pageTimes[id]);
      const missing = feeds.filter((feed) => feed.steps.frame === undefined).map((feed) => feed.feed);
      const frames = feeds.map((feed) => feed.steps.frame ?? Number.NaN);
      fromPress.push(...frames.map((frame) => frame + start - pressedAt));
      console.log(
        `run ${run + 1}: session start → first frame ${frames.map((f) => f.toFixed(0)).join(", ")} ms` +
          `${missing.length ? ` (no frame: ${missing.join(", ")})` : ""}; press → session start ${(start - pressedAt).toFixed(0)} ms; load ${loadavg()[0]?.toFixed(2)}`,
      );
      idleAt = undefined;
      await sendControlCommand(config.control.socketPath, "stop");
      while (idleAt === undefined) await sleep(20);
    }
  } finally {
    agent.kill("SIGTERM");
    await exited(agent);
    await hub.close();
    await browser.close();
  }
  report(results.flat(), fromPress, feedCount);
  const counts = (name: string) => sortedOf(pageCounts.map((times) => times[name] ?? 0));
  console.log(
    `  at Chromium's first frame, median (max): PLIs sent ${percentile(counts("plisBeforeFrame"), 50)} (${counts("plisBeforeFrame").at(-1)}), NACKs sent ${percentile(counts("nacksBeforeFrame"), 50)} (${counts("nacksBeforeFrame").at(-1)}), packets lost ${percentile(counts("lostBeforeFrame"), 50)} (${counts("lostBeforeFrame").at(-1)})`,
  );
}

function report(all: RunFeed[], fromPress: number[], feedCount: number): void {
  const frames = sortedOf(all.flatMap((feed) => (feed.steps.frame === undefined ? [] : [feed.steps.frame])));
  const pressed = sortedOf(fromPress.filter(Number.isFinite));
  console.log(
    `\nspoke start benchmark: ${feedCount} × ${values.width}x${values.height} x264, ${values.runs} runs, Chromium receiving`,
  );
  console.log(
    `  session start → first decoded frame   p50 ${percentile(frames, 50).toFixed(0)} ms, p95 ${percentile(frames, 95).toFixed(0)} ms (n=${frames.length}, max ${frames.at(-1)?.toFixed(0)} ms)`,
  );
  console.log(
    `  press (control command) → first frame p50 ${percentile(pressed, 50).toFixed(0)} ms, p95 ${percentile(pressed, 95).toFixed(0)} ms`,
  );
  console.log("  steps from session start, median (p95) over all feeds:");
  for (const step of STEPS) {
    const times = sortedOf(all.flatMap((feed) => (feed.steps[step] === undefined ? [] : [feed.steps[step]])));
    console.log(
      `    ${STEP_NAMES[step].padEnd(36)} ${percentile(times, 50).toFixed(0).padStart(5)} ms (${percentile(times, 95).toFixed(0)} ms)`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
