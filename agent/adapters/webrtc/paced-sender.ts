import { performance } from "node:perf_hooks";
import { createPacer, type PacedPacket, type Pacer, type PacerOptions } from "../../core/pacer.js";

/**
 * The timer half of the pacer (`agent/core/pacer.ts`) for one publication: packets go in as the worker
 * hands them over, and leave through `send` when the pacer lets them: at once when the pace allows
 * (so an unhurried stream is not delayed), otherwise from a timer set for the next departure. `send` is
 * where the transport-wide number is stamped and the send time logged, so the log holds when each
 * packet really left, not when it was queued.
 */

export interface PacedSenderOptions<T> {
  send(item: T): void;
  /** The target to pace at (a multiple of it), read whenever packets are taken. */
  targetKbps(): number;
  /** The pacer dropped stale video: the encoder should send a keyframe. */
  onKeyframeNeeded(): void;
  /** A send that threw: reported, and the packets behind it still go (from a timer nobody else catches). */
  onSendError(error: unknown): void;
  pacer?: PacerOptions;
  nowUs?: () => number;
}

export class PacedSender<T> {
  private readonly pacer: Pacer<T>;
  private readonly nowUs: () => number;
  private timer: NodeJS.Timeout | undefined;
  private timerAtUs: number | undefined;
  private closed = false;

  constructor(private readonly options: PacedSenderOptions<T>) {
    this.pacer = createPacer<T>(options.pacer);
    this.nowUs = options.nowUs ?? (() => performance.now() * 1000);
  }

  push(packet: PacedPacket<T>): void {
    if (this.closed) return;
    this.pacer.enqueue(packet, this.nowUs());
    this.flush();
  }

  stats() {
    return this.pacer.stats();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private flush(): void {
    if (this.closed) return;
    const now = this.nowUs();
    this.pacer.setTargetKbps(this.options.targetKbps());
    for (const item of this.pacer.take(now)) {
      try {
        this.options.send(item);
      } catch (error) {
        this.options.onSendError(error);
      }
    }
    if (this.pacer.takeKeyframeRequest()) this.options.onKeyframeNeeded();
    const next = this.pacer.nextSendUs(now);
    if (next === undefined) return;
    // One timer, for the earliest departure; an earlier one replaces a later.
    if (this.timer && this.timerAtUs !== undefined && this.timerAtUs <= next) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAtUs = next;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAtUs = undefined;
        this.flush();
      },
      Math.max(1, (next - now) / 1000),
    );
  }
}
