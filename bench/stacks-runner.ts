/**
 * One measured publisher process of `bench/stacks.ts`: N feeds' RTP arrives on loopback UDP sockets (as
 * from the agent's workers) and goes out through one WebRTC stack to the hub. Reports, over the
 * measured window, its own CPU time (`process.cpuUsage`), the packets forwarded and the forwarding delay
 * of each packet: from the socket's message callback to the packet leaving the stack (node-datachannel:
 * `sendMessageBinary` returns, having encrypted and sent it on the calling thread; werift: its UDP
 * socket's `send` is called, after its async SRTP path). Stack "none" only receives: the baseline.
 *
 *   node --import tsx bench/stacks-runner.ts <stack> <whipUrl> <port,port,…> <warmupS> <seconds>
 */
import dgram, { createSocket, type Socket } from "node:dgram";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import pino from "pino";
import { NodeDatachannelPublisher } from "../agent/adapters/webrtc/node-datachannel-publisher.js";
import { WeriftPublisher } from "../agent/adapters/webrtc/werift-publisher.js";
import type { Publisher } from "../agent/app/ports.js";
import { plannedFeed } from "../test/helpers/agent-fixtures.js";
import { benchConfig } from "./bench-config.js";

export type Stack = "werift" | "node-datachannel" | "none";

interface Quantiles {
  p50: number;
  p99: number;
  max: number;
  samples: number;
}

export interface RunnerResult {
  type: "result";
  stack: Stack;
  streams: number;
  cpuSeconds: number;
  seconds: number;
  packets: number;
  bytes: number;
  /** Packets forwarded over the runner's whole life (for the hub's count to be checked against). */
  forwardedTotal: number;
  /** Forwarding delay per packet, µs, without the pacer's intended wait. */
  delayUs: Quantiles;
  /** The pacer's intended wait per packet, µs (werift's publisher paces; the other stacks do not). */
  pacingUs?: Quantiles;
}

const [stackArg, whipUrl = "", portList = "", warmupArg = "2", secondsArg = "10"] = process.argv.slice(2);
const stack = stackArg as Stack;
const ports = portList.split(",").map(Number);
const log = pino({ level: "warn" }, pino.destination(2));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let measuring = false;
let packets = 0;
let bytes = 0;
let forwardedTotal = 0;
const delays: number[] = [];
const pacingDelays: number[] = [];

/** werift's packets leave through a dgram socket: its `send` is where each is timed. */
function timeWeriftSends(arrivals: Map<number, Map<number, number>>): void {
  const original = dgram.Socket.prototype.send;
  const patched = function (this: Socket, message: unknown, ...rest: unknown[]) {
    if (measuring && Buffer.isBuffer(message) && message.length >= 12) {
      const second = message[1] ?? 0;
      // RTP, not RTCP (RFC 5761: RTCP packet types 192–223 in the second byte).
      if (second < 192 || second > 223) {
        const pending = arrivals.get(message.readUInt32BE(8));
        const arrived = pending?.get(message.readUInt16BE(2));
        if (arrived !== undefined) {
          pending?.delete(message.readUInt16BE(2));
          delays.push((performance.now() - arrived) * 1000);
        }
      }
    }
    return (original as (...args: unknown[]) => void).call(this, message, ...rest);
  };
  dgram.Socket.prototype.send = patched as typeof original;
  timeWeriftPacing(arrivals);
}

/**
 * The publisher's pacer holds packets on purpose (a keyframe spread over its pace): that wait is
 * reported apart, and the forwarding delay counts from the moment a packet leaves the pacer.
 */
function timeWeriftPacing(arrivals: Map<number, Map<number, number>>): void {
  type Send = (this: Publisher, item: { packet: Buffer }) => void;
  const prototype = WeriftPublisher.prototype as unknown as { send: Send };
  const original = prototype.send;
  prototype.send = function (this: Publisher, item: { packet: Buffer }) {
    const pending = measuring ? arrivals.get(weriftSsrc(this)) : undefined;
    const sequence = item.packet.readUInt16BE(2);
    const arrived = pending?.get(sequence);
    if (pending && arrived !== undefined) {
      const left = performance.now();
      pacingDelays.push((left - arrived) * 1000);
      pending.set(sequence, left);
    }
    original.call(this, item);
  };
}

/** The feeds' planned settings give the SDP (H.264 level) and congestion control's floor and ceiling. */
function publisherFor(index: number, dir: string): Publisher | undefined {
  const config = benchConfig({
    count: ports.length,
    pattern: "smpte",
    width: 1280,
    height: 720,
    bitrateKbps: 2000,
    whipUrl,
    dir,
  });
  const settings = plannedFeed(config, index);
  const events = { onKeyframeRequest: () => undefined, onConnectionLost: () => undefined };
  if (stack === "werift") return new WeriftPublisher(settings, events, log);
  if (stack === "node-datachannel") return new NodeDatachannelPublisher(settings, events, log);
  return undefined;
}

/** The SSRC werift writes for a publication (kept in a field its typings mark private). */
function weriftSsrc(publisher: Publisher): number {
  return (publisher as unknown as { video: { transceiver: { sender: { ssrc: number } } } }).video.transceiver
    .sender.ssrc;
}

async function main(): Promise<void> {
  const arrivals = new Map<number, Map<number, number>>();
  if (stack === "werift") timeWeriftSends(arrivals);
  const publishers: Publisher[] = [];
  const sockets: Socket[] = [];
  const dir = mkdtempSync(join(tmpdir(), "spoke-stacks-"));
  for (const [index, port] of ports.entries()) {
    const publisher = publisherFor(index, dir);
    if (publisher) {
      await publisher.connect();
      publishers.push(publisher);
    }
    const pending = new Map<number, number>();
    if (publisher && stack === "werift") arrivals.set(weriftSsrc(publisher), pending);
    const socket = createSocket("udp4");
    socket.on("message", (packet) => {
      const arrived = performance.now();
      if (stack === "werift" && measuring) pending.set(packet.readUInt16BE(2), arrived);
      publisher?.writeRtp(packet);
      forwardedTotal += 1;
      if (!measuring) return;
      packets += 1;
      bytes += packet.length;
      if (stack !== "werift") delays.push((performance.now() - arrived) * 1000);
    });
    await new Promise<void>((resolve) => socket.bind(port, "127.0.0.1", resolve));
    sockets.push(socket);
  }
  await sleep(Number(warmupArg) * 1000);
  process.send?.({ type: "measuring" });
  const seconds = Number(secondsArg);
  const before = process.cpuUsage();
  const started = performance.now();
  measuring = true;
  await sleep(seconds * 1000);
  measuring = false;
  const used = process.cpuUsage(before);
  const elapsed = (performance.now() - started) / 1000;
  const quantiles = (values: number[]): Quantiles => {
    values.sort((a, b) => a - b);
    const at = (q: number) => values[Math.min(values.length - 1, Math.floor(q * values.length))] ?? 0;
    return { p50: at(0.5), p99: at(0.99), max: values.at(-1) ?? 0, samples: values.length };
  };
  const result: RunnerResult = {
    type: "result",
    stack,
    streams: ports.length,
    cpuSeconds: (used.user + used.system) / 1e6,
    seconds: elapsed,
    packets,
    bytes,
    forwardedTotal,
    delayUs: quantiles(delays),
    ...(pacingDelays.length > 0 && { pacingUs: quantiles(pacingDelays) }),
  };
  for (const socket of sockets) socket.close();
  await Promise.all(publishers.map((publisher) => publisher.close()));
  rmSync(dir, { recursive: true, force: true });
  process.send?.({ ...result, forwardedTotal });
  process.disconnect?.();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
