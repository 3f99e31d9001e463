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
  /** How long after handing out a spare the next one is forked: the feed starting it gets the CPU first. */
  refillDelayMs: number;
  /** A spare that dies on its own is replaced after this, doubling while they keep dying, up to a minute. */
  respawnDelayMs: number;
  /**
   * Spares kept while no session runs: one per feed, so that a start forks nothing. While a session
   * runs the pool keeps `liveSpares` (a crashed worker's replacement), set with `setLive`.
   */
  idleSpares: number;
  liveSpares: number;
}

export const DEFAULT_POOL_OPTIONS: WorkerPoolOptions = {
  refillDelayMs: 1_000,
  respawnDelayMs: 1_000,
  idleSpares: 1,
  liveSpares: 1,
};

/**
 * Pre-started spare feed workers: Node started and GStreamer loaded, but no pipeline and so no device
 * open (the camera stays off while the room is not live). A start or a restart after a crash takes one
 * instead of paying for a fork, and the pool forks replacements in the background, one at a time.
 */
export class WorkerPool implements WorkerSource {
  private readonly spares: ChildProcess[] = [];
  private refillTimer: NodeJS.Timeout | undefined;
  private respawnDelayMs: number;
  private stopped = false;
  private live = false;
  private readonly options: WorkerPoolOptions;

  constructor(
    private readonly log: Logger,
    options: Partial<WorkerPoolOptions> = {},
    private readonly forkWorker: () => ChildProcess = forkFeedWorker,
  ) {
    this.options = { ...DEFAULT_POOL_OPTIONS, ...options };
    this.respawnDelayMs = this.options.respawnDelayMs;
  }

  /** Forks the spares. */
  start(): void {
    this.stopped = false;
    this.refill();
  }

  /** The first spare's pid, if one is forked. */
  get sparePid(): number | undefined {
    return this.spares[0]?.pid;
  }

  get sparePids(): number[] {
    return this.spares.flatMap((spare) => (spare.pid === undefined ? [] : [spare.pid]));
  }

  /**
   * A session runs (fewer spares are kept: none are killed, the ones taken are replaced only up to
   * `liveSpares`) or ended (the pool fills up again for the next start).
   */
  setLive(live: boolean): void {
    this.live = live;
    if (!live) this.scheduleRefill(this.options.refillDelayMs);
  }

  take(): ChildProcess {
    this.respawnDelayMs = this.options.respawnDelayMs;
    this.scheduleRefill(this.options.refillDelayMs);
    for (let spare = this.spares.shift(); spare; spare = this.spares.shift()) {
      if (spare.connected && spare.exitCode === null && spare.signalCode === null) {
        spare.removeAllListeners("exit");
        spare.removeAllListeners("error");
        return spare;
      }
    }
    return this.forkWorker();
  }

  /** Kills the spares (they have nothing open) and forks no more. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.refillTimer);
    const spares = this.spares.splice(0);
    await Promise.all(spares.map(killSpare));
  }

  private get wanted(): number {
    return this.live ? this.options.liveSpares : this.options.idleSpares;
  }

  private scheduleRefill(delayMs: number): void {
    clearTimeout(this.refillTimer);
    if (this.stopped) return;
    this.refillTimer = setTimeout(() => this.refill(), delayMs);
  }

  /** Forks one spare if the pool is short, and schedules the next: forks at once would compete for CPU. */
  private refill(): void {
    if (this.stopped || this.spares.length >= this.wanted) return;
    const spare = this.forkWorker();
    this.spares.push(spare);
    const bornAt = Date.now();
    // Without a listener, a failed spawn would be thrown as an uncaught 'error' event in the agent.
    spare.once("error", (error) =>
      this.log.warn({ error: error.message }, "cannot fork a spare feed worker"),
    );
    spare.once("exit", (code, signal) => {
      const index = this.spares.indexOf(spare);
      if (index < 0) return;
      this.spares.splice(index, 1);
      const healthy = Date.now() - bornAt > 60_000;
      const delay = healthy ? this.options.respawnDelayMs : this.respawnDelayMs;
      this.respawnDelayMs = Math.min(60_000, Math.max(1, delay) * 2);
      this.log.warn({ code, signal, retryInMs: delay }, "spare feed worker died; replacing it");
      this.scheduleRefill(delay);
    });
    if (this.spares.length < this.wanted) this.scheduleRefill(SPARE_SPACING_MS);
  }
}

/** Between forks of spares while filling the pool: each loads GStreamer, a burst of CPU on a Pi. */
const SPARE_SPACING_MS = 200;

async function killSpare(spare: ChildProcess): Promise<void> {
  if (spare.exitCode !== null || spare.signalCode !== null) return;
  const exited = new Promise((resolve) => spare.once("exit", resolve));
  spare.kill("SIGKILL");
  await exited;
}
