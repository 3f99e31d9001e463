import { describe, expect, it } from "vitest";
import {
  FAST_RECONNECT_ATTEMPTS,
  ICE_RESTART_MEDIA_MS,
  LivenessDetector,
  MAX_HUB_SILENCE_MS,
  planRecovery,
  planStartRetry,
  RECOVERY_IDLE,
  type RecoveryEvent,
  type RecoveryState,
  START_PATIENCE_MS,
} from "../../agent/core/hub-link.js";

/** Media every 33 ms from `from` to `to`, RTCP at the given times: what the detector says at `at`. */
function trace(options: { sendUntil: number; rtcpAt: readonly number[]; at: number; sendFrom?: number }) {
  const detector = new LivenessDetector();
  const events: [number, "send" | "rtcp"][] = [];
  for (let t = options.sendFrom ?? 0; t <= options.sendUntil; t += 33) events.push([t, "send"]);
  for (const t of options.rtcpAt) events.push([t, "rtcp"]);
  events.sort((a, b) => a[0] - b[0]);
  for (const [t, kind] of events) {
    if (t > options.at) break;
    if (kind === "send") detector.mediaSent(t);
    else detector.rtcp(t);
  }
  return detector.verdict(options.at);
}

const everySecond = (until: number) =>
  Array.from({ length: Math.floor(until / 1000) + 1 }, (_, i) => i * 1000);

describe("hub liveness", () => {
  it.each([
    ["RTCP every second while sending", { sendUntil: 10_000, rtcpAt: everySecond(10_000), at: 9990 }, true],
    ["RTCP stopped at 3 s, 1.9 s later", { sendUntil: 10_000, rtcpAt: everySecond(3000), at: 4900 }, true],
    ["RTCP stopped at 3 s, 2 s later", { sendUntil: 10_000, rtcpAt: everySecond(3000), at: 5000 }, false],
    ["never any RTCP, 1.9 s of sending", { sendUntil: 10_000, rtcpAt: [], at: 1900 }, true],
    ["never any RTCP, 2 s of sending", { sendUntil: 10_000, rtcpAt: [], at: 2000 }, false],
    // Nothing sent, nothing to report on: a stopped encoder is not a lost hub.
    ["sending stopped at 3 s, RTCP too", { sendUntil: 3000, rtcpAt: everySecond(3000), at: 8000 }, true],
    // After a pause the count starts afresh from the first packet sent again.
    [
      "sending again from 8 s after a pause, 1.5 s in",
      { sendFrom: 8000, sendUntil: 12_000, rtcpAt: everySecond(3000), at: 9500 },
      true,
    ],
  ] as const)("%s: alive %s", (_name, options, alive) => {
    expect(trace(options).alive).toBe(alive);
  });

  it("gives a hub that reports only every 5 s twice its own gap, and keeps that habit for its next peer", () => {
    const every5s = Array.from({ length: 5 }, (_, i) => i * 5000);
    expect(trace({ sendUntil: 40_000, rtcpAt: every5s, at: 29_900 }).alive).toBe(true);
    expect(trace({ sendUntil: 40_000, rtcpAt: every5s, at: 30_000 })).toEqual({
      alive: false,
      reason: "silence",
    });
    const detector = new LivenessDetector();
    for (let t = 0; t <= 10_000; t += 33) {
      detector.mediaSent(t);
      if (t % 5000 < 33) detector.rtcp(t);
    }
    expect(detector.silenceLimitMs()).toBeGreaterThanOrEqual(9900);
    detector.reset();
    expect(detector.silenceLimitMs()).toBeGreaterThanOrEqual(9900);
  });

  it("never waits longer than its ceiling, whatever gaps the hub showed", () => {
    const detector = new LivenessDetector();
    detector.mediaSent(0);
    detector.rtcp(0);
    for (let t = 33; t <= 60_000; t += 33) detector.mediaSent(t);
    detector.rtcp(60_000);
    expect(detector.silenceLimitMs()).toBe(MAX_HUB_SILENCE_MS);
  });

  it("calls a silent hub lost by silence", () => {
    expect(trace({ sendUntil: 10_000, rtcpAt: [0], at: 2100 })).toEqual({ alive: false, reason: "silence" });
  });

  it("gives ICE disconnected a moment to come back; failed and closed count at once", () => {
    const detector = new LivenessDetector({ disconnectedGraceMs: 1000 });
    detector.iceState("disconnected", 100);
    expect(detector.verdict(1000).alive).toBe(true);
    detector.iceState("connected", 1050);
    expect(detector.verdict(1200).alive).toBe(true);
    detector.iceState("disconnected", 2000);
    expect(detector.verdict(3000)).toEqual({ alive: false, reason: "ice-disconnected" });
    detector.iceState("failed", 3001);
    expect(detector.verdict(3001)).toEqual({ alive: false, reason: "ice-failed" });
    const closed = new LivenessDetector();
    closed.closed();
    expect(closed.verdict(0)).toEqual({ alive: false, reason: "closed" });
  });

  it("forgets everything on reset (a new or restarted peer)", () => {
    const detector = new LivenessDetector();
    detector.iceState("failed", 0);
    detector.mediaSent(0);
    detector.reset();
    detector.mediaSent(5000);
    expect(detector.verdict(6000).alive).toBe(true);
    expect(detector.lastRtcpAt).toBeUndefined();
  });
});

const half = () => 0.5;

/** Runs events through the planner from idle, returning each step. */
function ladder(events: RecoveryEvent[], random = half) {
  let state: RecoveryState = RECOVERY_IDLE;
  return events.map((event) => {
    const plan = planRecovery(state, event, random);
    state = plan.state;
    return plan.step;
  });
}

describe("recovery ladder", () => {
  it("tries an ICE restart first, then a new session when media does not come back", () => {
    expect(
      ladder([{ kind: "lost", reason: "silence" }, { kind: "iceRestartFailed" }, { kind: "recovered" }]),
    ).toEqual([
      { kind: "restartIce", mediaTimeoutMs: ICE_RESTART_MEDIA_MS },
      {
        kind: "newSession",
        delayMs: 0,
        waitingForHub: false,
        reason: "the ICE restart did not bring media back",
      },
      { kind: "none" },
    ]);
  });

  it("makes a new session at once for a hub without ICE restart, and for one that closed the connection", () => {
    expect(
      ladder([{ kind: "lost", reason: "ice-failed" }, { kind: "iceRestartUnsupported" }])[1],
    ).toMatchObject({
      kind: "newSession",
      delayMs: 0,
    });
    expect(ladder([{ kind: "lost", reason: "closed" }])[0]).toMatchObject({ kind: "newSession", delayMs: 0 });
  });

  it("keeps trying a hub that is down: 0.5, 1, 1, 1, 1 s (±25 %), the hub's Retry-After when longer", () => {
    const down: RecoveryEvent = { kind: "sessionFailed", failure: { kind: "network" } };
    const steps = ladder([{ kind: "lost", reason: "closed" }, down, down, down, down, down]);
    expect(steps.slice(1).map((step) => (step.kind === "newSession" ? step.delayMs : -1))).toEqual([
      500, 1000, 1000, 1000, 1000,
    ]);
    expect(steps.slice(1).every((step) => step.kind === "newSession" && step.waitingForHub)).toBe(true);
    const busy: RecoveryEvent = {
      kind: "sessionFailed",
      failure: { kind: "http", status: 503, retryAfterMs: 5000 },
    };
    expect(ladder([{ kind: "lost", reason: "closed" }, busy])[1]).toMatchObject({ delayMs: 5000 });
  });

  it("spreads the retries of boxes failing together (jitter), and slows down after about half a minute", () => {
    const down: RecoveryEvent = { kind: "sessionFailed", failure: { kind: "timeout" } };
    const low = ladder([down, down, down], () => 0)[2];
    const high = ladder([down, down, down], () => 0.999)[2];
    expect(low).toMatchObject({ delayMs: 750 });
    expect(high).toMatchObject({ delayMs: 1250 });
    const long = ladder(Array.from({ length: FAST_RECONNECT_ATTEMPTS + 6 }, () => down)).at(-1);
    expect(long).toMatchObject({ delayMs: 10_000 });
  });

  it("retries a configuration problem (4xx) slowly, and does not start a second ladder while one runs", () => {
    const refused: RecoveryEvent = { kind: "sessionFailed", failure: { kind: "http", status: 401 } };
    const [, slow] = ladder([{ kind: "lost", reason: "closed" }, refused]);
    expect(slow).toMatchObject({ kind: "newSession", delayMs: 45_000 });
    expect(
      ladder([
        { kind: "lost", reason: "silence" },
        { kind: "lost", reason: "silence" },
      ])[1],
    ).toEqual({
      kind: "none",
    });
  });
});

describe("start retries", () => {
  it.each([
    ["503 with Retry-After 1 s", { kind: "http", status: 503, retryAfterMs: 1000 }, 0, 0, 1000],
    ["unreachable, first retry", { kind: "network" }, 0, 0, 500],
    ["unreachable, past the patience", { kind: "network" }, 5, START_PATIENCE_MS - 1000, undefined],
    ["401: a configuration problem", { kind: "http", status: 401 }, 0, 0, undefined],
    ["not a WHIP failure (bad answer)", undefined, 0, 0, undefined],
  ] as const)("%s → %s", (_name, failure, attempt, waited, expected) => {
    expect(planStartRetry(failure, attempt, waited, half)).toBe(expected);
  });
});
