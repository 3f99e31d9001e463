import type { ChildProcess } from "node:child_process";
import type { Logger } from "pino";
import type { PropertyChange } from "../../../pipelines/encoders.js";
import type { FeedPipeline, FeedPorts } from "../../../pipelines/feed-pipeline.js";
import { PipelineRejected } from "../../../pipelines/launch.js";
import { type ErrorInfo, SpokeError } from "../../core/errors.js";
import { LoopbackRtpSocket } from "./loopback-rtp-socket.js";
import type { WorkerSource } from "./worker-pool.js";
import type { FromWorker, ToWorker, WorkerStats } from "./worker-protocol.js";

export interface WorkerTimings {
  /** How long the first RTP packet may take after the fork. */
  startTimeoutMs: number;
  /** No RTP for this long while running means the pipeline is stuck. */
  stallTimeoutMs: number;
  /** How long a worker gets to exit after `stop` before SIGKILL. */
  stopGraceMs: number;
  /**
   * A worker whose reported resident memory exceeds this is leaking (a driver or encoder): it is killed
   * and restarted before it starves the agent and the other feeds. A 720p x264 worker uses about 90 MB.
   */
  memoryLimitBytes: number;
}

export const DEFAULT_WORKER_TIMINGS: WorkerTimings = {
  startTimeoutMs: 10_000,
  stallTimeoutMs: 3_000,
  stopGraceMs: 2_000,
  memoryLimitBytes: 400 * 1024 * 1024,
};

export type SetOutcome = { ok: true } | { ok: false; detail: string };

const SET_TIMEOUT_MS = 2_000;

export interface WorkerHandlers {
  onRtp(packet: Buffer): void;
  /**
   * Given for a pipeline with sound: a second loopback port is bound for its Opus RTP. Audio is not
   * watched: a microphone that stops does not make the worker count as stalled.
   */
  onAudioRtp?(packet: Buffer): void;
  /** The microphone failed; the worker and its video go on. */
  onAudioFailure?(error: SpokeError): void;
  /** Called at most once, when a running worker dies or stalls (not after `stop`). */
  onFailure(error: SpokeError): void;
  onStats(stats: WorkerStats): void;
}

/**
 * One feed worker process, from fork to exit. Owns the loopback UDP sockets the worker sends RTP to, so
 * the ports are bound before the pipeline starts and cannot be taken by anything else.
 */
export class FeedWorkerProcess {
  private child: ChildProcess | undefined;
  private sockets: LoopbackRtpSocket[] = [];
  private lastRtpAt = 0;
  private watchdog: NodeJS.Timeout | undefined;
  private ended = false;
  private exited: Promise<void> = Promise.resolve();
  private lastRequestId = 0;

  constructor(
    private readonly feedId: string,
    private readonly timings: WorkerTimings,
    private readonly log: Logger,
    private readonly workers: WorkerSource,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Takes a worker (the spare, or a fresh fork) and resolves once its first RTP packet arrives. */
  async start(buildPipeline: (ports: FeedPorts) => FeedPipeline, handlers: WorkerHandlers): Promise<void> {
    let pipeline: FeedPipeline;
    let video: LoopbackRtpSocket;
    try {
      const bound = await this.bindPorts(handlers);
      // Stopped while the ports were bound: fork nothing (stop() has run and would not run again).
      if (this.ended) throw new SpokeError("SPOKE_FEED_WORKER_EXITED", "stopped while starting");
      video = bound.video;
      pipeline = buildPipeline(bound.ports);
    } catch (error) {
      // Nothing is forked yet, but the ports are bound: release them, or every retry leaks a socket.
      await this.stop();
      throw error instanceof PipelineRejected
        ? new SpokeError("SPOKE_FEED_PIPELINE_INVALID", `feed ${this.feedId}: ${error.message}`, {
            cause: error,
          })
        : error;
    }
    const firstPacket = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(this.startError("SPOKE_FEED_START_TIMEOUT", "no video from the pipeline"));
      }, this.timings.startTimeoutMs);
      video.onPacket((packet) => {
        clearTimeout(timer);
        resolve();
        this.lastRtpAt = Date.now();
        handlers.onRtp(packet);
      });
      this.startChild(pipeline, reject);
    });
    try {
      await firstPacket;
    } catch (error) {
      await this.stop();
      throw error;
    }
    // Stopped while starting: stop() has already released everything.
    if (this.ended) return;
    this.child?.on("close", (code, signal) => this.failed(handlers, exitError(code, signal)));
    this.child?.on("message", (message: FromWorker) => {
      if (message.type === "error") this.failed(handlers, fromInfo(message.error));
      if (message.type === "audio-failed") handlers.onAudioFailure?.(fromInfo(message.error));
      if (message.type === "stats") {
        const { type: _type, ...stats } = message;
        handlers.onStats(stats);
        if (message.memoryBytes > this.timings.memoryLimitBytes)
          this.failed(handlers, this.leakError(message));
      }
    });
    this.armWatchdog(handlers);
  }

  requestKeyframe(): void {
    this.sendToWorker({ type: "keyframe" });
  }

  /**
   * Sets properties of the running pipeline's elements. Resolves with the worker's answer; a worker that
   * is gone, or does not answer in time, counts as a failure to apply.
   */
  setProperties(changes: PropertyChange[]): Promise<SetOutcome> {
    const child = this.child;
    if (!child?.connected) return Promise.resolve({ ok: false, detail: "no running worker" });
    const id = ++this.lastRequestId;
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => done({ ok: false, detail: "the worker did not answer" }),
        SET_TIMEOUT_MS,
      );
      const onMessage = (message: FromWorker) => {
        if (message.type !== "set-result" || message.id !== id) return;
        done(message.error === undefined ? { ok: true } : { ok: false, detail: message.error });
      };
      const done = (outcome: SetOutcome) => {
        clearTimeout(timer);
        child.off("message", onMessage);
        child.off("exit", onExit);
        resolve(outcome);
      };
      const onExit = () => done({ ok: false, detail: "the worker exited" });
      child.on("message", onMessage);
      child.once("exit", onExit);
      this.sendToWorker({ type: "set", id, changes });
    });
  }

  /** Stops the worker: asks nicely, then SIGKILL after the grace period. Idempotent. */
  async stop(): Promise<void> {
    this.ended = true;
    clearInterval(this.watchdog);
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      this.sendToWorker({ type: "stop" });
      const kill = setTimeout(() => child.kill("SIGKILL"), this.timings.stopGraceMs);
      await this.exited;
      clearTimeout(kill);
    }
    this.closeSockets();
  }

  /** The loopback ports the worker sends to: video, and audio when the feed has a microphone. */
  private async bindPorts(handlers: WorkerHandlers): Promise<{ ports: FeedPorts; video: LoopbackRtpSocket }> {
    const video = await LoopbackRtpSocket.bind("video", this.log);
    this.sockets.push(video);
    const ports: FeedPorts = { video: video.port };
    const onAudioRtp = handlers.onAudioRtp?.bind(handlers);
    if (onAudioRtp) {
      const audio = await LoopbackRtpSocket.bind("audio", this.log);
      this.sockets.push(audio);
      audio.onPacket(onAudioRtp);
      ports.audio = audio.port;
    }
    return { ports, video };
  }

  private startChild(pipeline: FeedPipeline, reject: (error: SpokeError) => void): void {
    const child = this.workers.take();
    this.child = child;
    this.exited = new Promise((resolve) => {
      child.once("exit", () => resolve());
      child.once("error", () => resolve());
    });
    // Without a listener, a failed spawn would be thrown as an uncaught 'error' event in the agent.
    child.once("error", (cause) => {
      reject(
        new SpokeError("SPOKE_FEED_WORKER_EXITED", `cannot start the feed worker: ${cause.message}`, {
          cause,
        }),
      );
    });
    const stderr = collectTail(child);
    child.on("message", (message: FromWorker) => {
      if (message.type === "error") reject(fromInfo(message.error));
    });
    // "close", not "exit": it comes after the IPC channel has delivered what the worker sent before it
    // died, so a coded error (a missing device, say) is not overtaken by a bare exit.
    child.once("close", (code, signal) => {
      const tail = stderr();
      if (tail) this.log.warn({ feed: this.feedId, stderr: tail }, "feed worker wrote to stderr");
      reject(exitError(code, signal));
    });
    const start: ToWorker = { type: "start", launch: pipeline.launch };
    if (pipeline.sourceDevice !== undefined) start.sourceDevice = pipeline.sourceDevice;
    child.send(start);
  }

  private armWatchdog(handlers: WorkerHandlers): void {
    const period = Math.max(100, Math.floor(this.timings.stallTimeoutMs / 3));
    this.watchdog = setInterval(() => {
      if (Date.now() - this.lastRtpAt > this.timings.stallTimeoutMs) {
        this.failed(
          handlers,
          new SpokeError(
            "SPOKE_FEED_STALLED",
            `feed ${this.feedId}: no video for ${this.timings.stallTimeoutMs} ms`,
          ),
        );
      }
    }, period);
  }

  private failed(handlers: WorkerHandlers, error: SpokeError): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.watchdog);
    this.child?.kill("SIGKILL");
    this.closeSockets();
    handlers.onFailure(error);
  }

  private closeSockets(): void {
    for (const socket of this.sockets.splice(0)) socket.close();
  }

  private sendToWorker(message: ToWorker): void {
    if (this.child?.connected) this.child.send(message);
  }

  private leakError(stats: WorkerStats): SpokeError {
    const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);
    return new SpokeError(
      "SPOKE_FEED_WORKER_LEAK",
      `feed ${this.feedId}: worker uses ${mb(stats.memoryBytes)} MB, over its ${mb(this.timings.memoryLimitBytes)} MB ceiling`,
      { context: { memoryBytes: stats.memoryBytes, limitBytes: this.timings.memoryLimitBytes } },
    );
  }

  private startError(code: "SPOKE_FEED_START_TIMEOUT", what: string): SpokeError {
    return new SpokeError(code, `feed ${this.feedId}: ${what} within ${this.timings.startTimeoutMs} ms`);
  }
}

function fromInfo(info: ErrorInfo): SpokeError {
  return new SpokeError(info.code, info.message);
}

function exitError(code: number | null, signal: NodeJS.Signals | null): SpokeError {
  const how = signal ? `killed by ${signal}` : `exited with code ${code}`;
  return new SpokeError("SPOKE_FEED_WORKER_EXITED", `feed worker ${how}`, { context: { code, signal } });
}

/** Keeps the last few KiB of the worker's stderr for the error report. */
function collectTail(child: ChildProcess, limit = 4096): () => string {
  let tail = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    tail = (tail + chunk.toString("utf8")).slice(-limit);
  });
  return () => tail.trim();
}
