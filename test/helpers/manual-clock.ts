import type { ConnectionClock } from "../../agent/app/feed-connection.js";

/** A clock the test moves by hand; timers run as it passes them, with promise callbacks flushed between. */
export class ManualClock implements ConnectionClock {
  private nowMs = 0;
  private nextId = 0;
  private readonly timers = new Map<number, { at: number; callback: () => void }>();

  now(): number {
    return this.nowMs;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.nowMs + ms, callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Timers not yet run nor cleared. */
  get pending(): number {
    return this.timers.size;
  }

  /** Moves time on by `ms`, in steps of `stepMs`, running what falls due and flushing promises. */
  async advance(ms: number, stepMs = 10, onStep?: (nowMs: number) => void): Promise<void> {
    const end = this.nowMs + ms;
    while (this.nowMs < end) {
      this.nowMs = Math.min(end, this.nowMs + stepMs);
      onStep?.(this.nowMs);
      for (const [id, timer] of [...this.timers].sort((a, b) => a[1].at - b[1].at)) {
        if (timer.at > this.nowMs || !this.timers.has(id)) continue;
        this.timers.delete(id);
        timer.callback();
      }
      await flush();
    }
  }
}

export async function flush(): Promise<void> {
  for (let i = 0; i < 10; i += 1) await Promise.resolve();
}
