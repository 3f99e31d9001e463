import { type ChildProcess, fork } from "node:child_process";
import type { Logger } from "pino";
import { workerEntry } from "./worker-entry.js";

/** Where a feed gets a worker process from: forked now, or a spare forked earlier. */
export interface WorkerSource {
  /** A worker process that has not been given a pipeline yet. */
  take(): ChildProcess;
}

/**
 * Forks one feed worker. Its libuv pool gets two threads: the bus poll holds one for good, the other is
 * for anything else; the default four only add stacks.
 */
export function forkFeedWorker(): ChildProcess {
  const entry = workerEntry();
  return fork(entry.modulePath, [], {
    execArgv: entry.execArgv,
    env: { ...process.env, UV_THREADPOOL_SIZE: "2" },
    // stdout ignored: nothing a pipeline prints may reach the agent's log (journald keeps it on disk).
    stdio: ["ignore", "ignore", "pipe", "ipc"],
    serialization: "json",
  });
}

/** Forks every worker when it is needed: no spare (tests, and what a feed falls back to). */
export const forkOnDemand: WorkerSource = { take: forkFeedWorker };

export interface WorkerPoolOptions {
  /** How long after handing out the spare the next one is forked: the feed starting it gets the CPU first. */
  refillDelayMs: number;
  /** A spare that dies on its own is replaced after this, doubling while they keep dying, up to a minute. */
  respawnDelayMs: number;
}

export const DEFAULT_POOL_OPTIONS: WorkerPoolOptions = { refillDelayMs: 1_000, respawnDelayMs: 1_000 };

/**
 * One pre-started spare feed worker per agent: Node started and GStreamer loaded, but no pipeline and so
 * no device open (the camera stays off while the room is not live). A start or a restart after a crash
 * takes it instead of paying for a fork, and the next spare is forked in the background.
 */
export class WorkerPool implements WorkerSource {
  private spare: ChildProcess | undefined;
  private refillTimer: NodeJS.Timeout | undefined;
  private respawnDelayMs: number;
  private stopped = false;

  constructor(
    private readonly log: Logger,
    private readonly options: WorkerPoolOptions = DEFAULT_POOL_OPTIONS,
    private readonly forkWorker: () => ChildProcess = forkFeedWorker,
  ) {
    this.respawnDelayMs = options.respawnDelayMs;
  }

  /** Forks the first spare. */
  start(): void {
    this.stopped = false;
    this.refill();
  }

  get sparePid(): number | undefined {
    return this.spare?.pid;
  }

  take(): ChildProcess {
    const spare = this.spare;
    this.spare = undefined;
    this.respawnDelayMs = this.options.respawnDelayMs;
    this.scheduleRefill(this.options.refillDelayMs);
    if (spare?.connected && spare.exitCode === null && spare.signalCode === null) {
      spare.removeAllListeners("exit");
      spare.removeAllListeners("error");
      return spare;
    }
    return this.forkWorker();
  }

  /** Kills the spare (it has nothing open) and forks no more. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.refillTimer);
    const spare = this.spare;
    this.spare = undefined;
    if (!spare || spare.exitCode !== null || spare.signalCode !== null) return;
    const exited = new Promise((resolve) => spare.once("exit", resolve));
    spare.kill("SIGKILL");
    await exited;
  }

  private scheduleRefill(delayMs: number): void {
    clearTimeout(this.refillTimer);
    if (this.stopped) return;
    this.refillTimer = setTimeout(() => this.refill(), delayMs);
  }

  private refill(): void {
    if (this.stopped || this.spare) return;
    const spare = this.forkWorker();
    this.spare = spare;
    const bornAt = Date.now();
    // Without a listener, a failed spawn would be thrown as an uncaught 'error' event in the agent.
    spare.once("error", (error) =>
      this.log.warn({ error: error.message }, "cannot fork a spare feed worker"),
    );
    spare.once("exit", (code, signal) => {
      if (this.spare !== spare) return;
      this.spare = undefined;
      const healthy = Date.now() - bornAt > 60_000;
      const delay = healthy ? this.options.respawnDelayMs : this.respawnDelayMs;
      this.respawnDelayMs = Math.min(60_000, Math.max(1, delay) * 2);
      this.log.warn({ code, signal, retryInMs: delay }, "spare feed worker died; replacing it");
      this.scheduleRefill(delay);
    });
  }
}
