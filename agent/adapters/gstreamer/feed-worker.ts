/**
 * Entry point of a feed worker process: runs one GStreamer pipeline that sends RTP to the agent over
 * loopback UDP, so that a crash in a driver or encoder takes down only this process. The agent
 * supervises it (start timeout, no-RTP watchdog, SIGKILL after a grace period) because
 * gstreamer-superficial can swallow errors and hang on exit.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import type { PropertyChange } from "../../../pipelines/encoders.js";
import { LEVEL_NAME, MIC_NAME, PAYLOADER_NAME, RATE_NAME } from "../../../pipelines/feed-pipeline.js";
import { audioFlowing, parseLevelRms } from "../../core/audio-level.js";
import { busErrorCode, busErrorReason } from "../../core/bus-errors.js";
import type { ErrorInfo } from "../../core/errors.js";
import type { FrameCounts, FromWorker, ToWorker, WorkerStats } from "./worker-protocol.js";

interface GstElement {
  [property: string]: unknown;
}
interface GstPipeline {
  play(): void;
  stop(): void;
  forceKeyUnit(elementName: string, count: number): boolean;
  findChild(name: string): GstElement | null;
  pollBus(callback: (message: Record<string, unknown>) => void): void;
}
interface GstModule {
  Pipeline: new (launch: string) => GstPipeline;
}

function send(message: FromWorker): void {
  process.send?.(message);
}

function fail(error: ErrorInfo, exitCode: number): void {
  // Exit once the report is on its way. The exit may hang inside GStreamer; the agent kills us if so.
  const message: FromWorker = { type: "error", error };
  if (process.send) process.send(message, undefined, {}, () => process.exit(exitCode));
  else process.exit(exitCode);
}

/** The level meter's last reading, for pipelines with sound. */
const audioLevel: { db?: number; at?: number } = {};

function onBusMessage(message: Record<string, unknown>): void {
  if (message.type === "element" && message.name === "level" && message._src_element_name === LEVEL_NAME) {
    const db = parseLevelRms(message.rms);
    if (db !== undefined) {
      audioLevel.db = db;
      audioLevel.at = Date.now();
    }
  } else if (message.type === "error") {
    const element = String(message._src_element_name ?? "pipeline");
    const text = String(message.message);
    const debug = typeof message.debug === "string" ? message.debug : undefined;
    const reason = busErrorReason(debug);
    const described = `${element}: ${text}${reason ? ` (${reason})` : ""}`;
    const code = busErrorCode(
      debug === undefined ? { element, message: text } : { element, message: text, debug },
    );
    // The picture goes on without the microphone: its branch stops, the video branch does not.
    if (element === MIC_NAME) send({ type: "audio-failed", error: { code, message: described } });
    else fail({ code, message: described }, 3);
  } else if (message.type === "eos") {
    send({ type: "eos" });
  } else if (message.type === "state-changed" && message._src_element_name === "pipeline0") {
    if (message["new-state"] === "playing" || message["new-state"] === 4) send({ type: "playing" });
  }
}

function start(gst: GstModule, launch: string, sourceDevice: string | undefined): GstPipeline | undefined {
  if (sourceDevice !== undefined && !existsSync(sourceDevice)) {
    fail({ code: "SPOKE_FEED_SOURCE_MISSING", message: `capture device ${sourceDevice} does not exist` }, 2);
    return undefined;
  }
  let pipeline: GstPipeline;
  try {
    pipeline = new gst.Pipeline(launch);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    fail({ code: "SPOKE_FEED_PIPELINE_INVALID", message: `GStreamer rejected the pipeline: ${detail}` }, 2);
    return undefined;
  }
  pipeline.pollBus(onBusMessage);
  pipeline.play();
  return pipeline;
}

/** Sets each property in turn; the first that GStreamer refuses is reported, the rest are not tried. */
function applyChanges(pipeline: GstPipeline | undefined, changes: PropertyChange[]): { error?: string } {
  if (!pipeline) return { error: "no pipeline is running" };
  for (const change of changes) {
    const target = pipeline.findChild(change.element);
    if (!target) return { error: `no element named ${change.element}` };
    try {
      target[change.property] = change.value;
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      return { error: `${change.element}.${change.property}: ${detail}` };
    }
  }
  return {};
}

const STATS_INTERVAL_MS = 2000;

/** videorate's running counts: frames from the source, frames to the encoder, frames it dropped. */
function frameCounts(pipeline: GstPipeline): FrameCounts | undefined {
  const rate = pipeline.findChild(RATE_NAME);
  if (!rate) return undefined;
  const count = (property: string) => Number(rate[property] ?? 0);
  const frames = { in: count("in"), out: count("out") };
  // In drop-only mode videorate does not count its drops: they are what went in and did not come out.
  return { ...frames, dropped: Math.max(0, frames.in - frames.out) };
}

/** Reports this process's CPU (% of one core), memory, frame counts and sound level every couple of seconds. */
function reportStats(pipeline: GstPipeline): void {
  const withAudio = Boolean(pipeline.findChild(LEVEL_NAME));
  let last = process.cpuUsage();
  let lastAt = process.hrtime.bigint();
  setInterval(() => {
    const now = process.hrtime.bigint();
    const used = process.cpuUsage(last);
    const elapsedMicros = Number(now - lastAt) / 1000;
    last = process.cpuUsage();
    lastAt = now;
    const cpuPercent = Math.round(((used.user + used.system) / elapsedMicros) * 1000) / 10;
    const stats: WorkerStats = { cpuPercent, memoryBytes: process.memoryUsage.rss() };
    const frames = frameCounts(pipeline);
    if (frames) stats.frames = frames;
    if (withAudio) {
      stats.audioFlowing = audioFlowing(audioLevel.at, Date.now());
      if (audioLevel.db !== undefined) stats.audioLevelDb = audioLevel.db;
    }
    send({ type: "stats", ...stats });
  }, STATS_INTERVAL_MS);
}

function main(): void {
  // Loaded here, not at import time, so that importing this module has no side effects. Loaded before
  // any `start`, so that a spare worker waiting for a feed has paid for it already.
  const gst = createRequire(import.meta.url)("gstreamer-superficial") as GstModule;
  send({ type: "ready" });
  let pipeline: GstPipeline | undefined;
  const stop = (): void => {
    pipeline?.stop();
    process.exit(0);
  };
  process.on("disconnect", stop);
  // Ctrl-C in a terminal reaches the whole process group. The agent owns this worker's life (a stop
  // message, or the channel closing): dying here first would be reported to the fleet as a feed failure.
  process.on("SIGINT", () => undefined);
  process.on("message", (message: ToWorker) => {
    switch (message.type) {
      case "start":
        if (pipeline) break;
        pipeline = start(gst, message.launch, message.sourceDevice);
        if (pipeline) reportStats(pipeline);
        break;
      case "keyframe":
        pipeline?.forceKeyUnit(PAYLOADER_NAME, 1);
        break;
      case "set":
        send({ type: "set-result", id: message.id, ...applyChanges(pipeline, message.changes) });
        break;
      case "stop":
        stop();
        break;
    }
  });
}

main();
