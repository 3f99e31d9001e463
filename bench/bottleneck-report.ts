import type { ReceiverSample } from "./chromium-whip-receiver.js";

/** The bottleneck bench's figures from the receiver's samples and the agent's steering log. */

export interface RateChange {
  /** Seconds from the start. */
  at: number;
  mbit: number;
}

export interface AgentState {
  t: number;
  estimateKbps: number;
  targetKbps: number;
  step: number;
}

/** Gaps between decoded frames longer than this count as frozen. */
const FREEZE_GAP_MS = 500;
/** The first stretch is measured from this long after the first decoded frame. */
const FIRST_SETTLE_MS = 5000;

interface Stretch {
  fromMs: number;
  toMs: number;
  mbit: number;
}

export function report(
  samples: ReceiverSample[],
  states: AgentState[],
  schedule: RateChange[],
  seconds: number,
  mode: string,
): void {
  const endMs = seconds * 1000;
  const frameTimes = decodedFrameTimes(samples);
  const sampleAt = (t: number) => samples.findLast((s) => s.t <= t);
  const bytesAt = (t: number) => sampleAt(t)?.bytes ?? 0;
  const firstFrame = frameTimes[0] ?? endMs;
  console.log(
    `spoke bottleneck benchmark: ultrasound 1280x720@30 snow → headless Chromium, ${schedule.map((c) => c.mbit).join(" → ")} Mbit/s tbf, ${seconds} s, congestionControl ${mode}`,
  );
  console.log(`  first decoded frame ${(firstFrame / 1000).toFixed(2)} s after the start`);

  schedule.forEach((change, index) => {
    const startMs = change.at * 1000;
    const stopMs = (schedule[index + 1]?.at ?? seconds) * 1000;
    let fromMs = Math.min(stopMs, firstFrame + FIRST_SETTLE_MS);
    let label = `${change.mbit} Mbit/s from ${(fromMs / 1000).toFixed(1)} s`;
    if (index > 0) {
      const before = schedule[index - 1]?.mbit ?? change.mbit;
      const converged = convergence(change, before, stopMs, frameTimes, bytesAt, states);
      label = `${before} → ${change.mbit} Mbit/s converged ${converged === undefined ? "not within the stretch" : `in ${((converged - startMs) / 1000).toFixed(1)} s`}`;
      fromMs = converged ?? stopMs;
    }
    console.log(`  ${label}`);
    if (stopMs - fromMs < 1000) return;
    stretchFigures({ fromMs, toMs: stopMs, mbit: change.mbit }, frameTimes, sampleAt);
  });

  const every5: string[] = [];
  const jitter: string[] = [];
  for (let t = 5000; t <= endMs; t += 5000) {
    const e = states.findLast((x) => x.t <= t);
    if (e) every5.push(`${t / 1000}s ${e.estimateKbps}/${e.targetKbps}k step ${e.step}`);
    const a = sampleAt(t - 5000);
    const b = sampleAt(t);
    if (a && b && b.jitterBufferEmittedCount > a.jitterBufferEmittedCount) {
      const ms =
        ((b.jitterBufferDelay - a.jitterBufferDelay) /
          (b.jitterBufferEmittedCount - a.jitterBufferEmittedCount)) *
        1000;
      jitter.push(`${ms.toFixed(0)}`);
    } else jitter.push("-");
  }
  console.log(`  estimate/target every 5 s: ${every5.join(", ")}`);
  console.log(`  jitter-buffer delay every 5 s (ms): ${jitter.join(" ")}`);
  const last = samples.at(-1);
  if (last) {
    console.log(
      `  receiver totals: ${last.packetsLost} packets lost, ${last.nackCount} NACKs, ${last.pliCount} PLIs, ${last.freezeCount} freezes (Chromium's count)`,
    );
  }
}

function stretchFigures(
  stretch: Stretch,
  frameTimes: number[],
  sampleAt: (t: number) => ReceiverSample | undefined,
): void {
  const { fromMs, toMs, mbit } = stretch;
  const spanS = (toMs - fromMs) / 1000;
  const framesIn = frameTimes.filter((t) => t >= fromMs && t <= toMs);
  let frozen = 0;
  let previous = fromMs;
  for (const t of [...framesIn, toMs]) {
    if (t - previous > FREEZE_GAP_MS) frozen += t - previous;
    previous = t;
  }
  const a = sampleAt(fromMs);
  const b = sampleAt(toMs);
  const receivedKbps = (((b?.bytes ?? 0) - (a?.bytes ?? 0)) * 8) / 1000 / spanS;
  const chromiumFrozenS = (b?.totalFreezesDuration ?? 0) - (a?.totalFreezesDuration ?? 0);
  const emitted = (b?.jitterBufferEmittedCount ?? 0) - (a?.jitterBufferEmittedCount ?? 0);
  const jitterMs =
    emitted > 0 ? (((b?.jitterBufferDelay ?? 0) - (a?.jitterBufferDelay ?? 0)) / emitted) * 1000 : Number.NaN;
  console.log(
    `    over ${(fromMs / 1000).toFixed(1)}–${(toMs / 1000).toFixed(1)} s: decoded ${(framesIn.length / spanS).toFixed(1)} fps, received ${receivedKbps.toFixed(0)} kbit/s = ${((receivedKbps / (mbit * 1000)) * 100).toFixed(0)} % of the link, frozen ${((frozen / (toMs - fromMs)) * 100).toFixed(1)} % (gaps > ${FREEZE_GAP_MS} ms; Chromium's freezes ${((chromiumFrozenS / spanS) * 100).toFixed(1)} %), jitter-buffer delay ${jitterMs.toFixed(0)} ms, width ${b?.frameWidth ?? 0}`,
  );
}

/** When, after a change of rate, the feed had settled: down, the target under the link rate and the picture at ≥ 25 fps; up, ≥ 80 % of the link used. */
function convergence(
  change: RateChange,
  beforeMbit: number,
  stopMs: number,
  frameTimes: number[],
  bytesAt: (t: number) => number,
  states: AgentState[],
): number | undefined {
  const atMs = change.at * 1000;
  const linkKbps = change.mbit * 1000;
  for (let t = atMs + 1000; t < stopMs; t += 100) {
    const windowKbps = ((bytesAt(t) - bytesAt(t - 1000)) * 8) / 1000;
    const fps = frameTimes.filter((f) => f > t - 1000 && f <= t).length;
    const target = states.findLast((x) => x.t <= t)?.targetKbps ?? 0;
    const ok = change.mbit < beforeMbit ? target <= linkKbps && fps >= 25 : windowKbps >= 0.8 * linkKbps;
    if (ok) return t;
  }
  return undefined;
}

/** One time per decoded frame, from the counter's increments between samples (50 ms apart). */
function decodedFrameTimes(samples: ReceiverSample[]): number[] {
  const times: number[] = [];
  let frames: number | undefined;
  for (const sample of samples) {
    if (frames !== undefined && sample.framesDecoded > frames) {
      for (let i = frames; i < sample.framesDecoded; i += 1) times.push(sample.t);
    }
    frames = sample.framesDecoded;
  }
  return times;
}
