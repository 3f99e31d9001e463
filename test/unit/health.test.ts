import { describe, expect, it } from "vitest";
import type { FeedStatus } from "../../agent/core/feed-status.js";
import {
  consecutiveFailures,
  DEFAULT_RESTART_POLICY,
  restartPlan,
  STABLE_RUN_MS,
} from "../../agent/core/feed-status.js";
import { buildHealthReport, overallHealth, sessionReport } from "../../agent/core/health.js";

const system = {
  cpuLoadPercent: 12.5,
  memoryUsedPercent: 40,
  memoryTotalBytes: 4e9,
  cpuTemperatureC: 51,
  osUptimeSeconds: 1000,
};

function feed(state: FeedStatus["state"]): FeedStatus {
  return {
    id: "room-camera",
    role: "camera",
    state,
    encoder: "x264enc",
    hardwareEncoder: false,
    mode: { width: 1280, height: 720, framerate: 30 },
    step: 0,
    bitrateKbps: 1500,
    restarts: 0,
    packetsForwarded: 0,
    bytesForwarded: 0,
  };
}

const since = new Date("2026-11-26T10:00:00Z");

describe("health model", () => {
  it.each([
    ["idle", [feed("stopped")], "ok"],
    ["live", [feed("running")], "ok"],
    ["live", [feed("running"), feed("restarting")], "degraded"],
    ["degraded", [feed("running")], "degraded"],
  ] as const)("session %s with feeds %j is %s", (state, feeds, expected) => {
    expect(overallHealth({ state, since: since.toISOString() }, feeds)).toBe(expected);
  });

  it("reports a session that ended in error as failed, with the error", () => {
    const failure = { code: "SPOKE_WHIP_HTTP_ERROR", message: "WHIP endpoint answered 401" } as const;
    const session = sessionReport({ kind: "error", failure }, since);
    expect(session).toEqual({ state: "error", since: "2026-11-26T10:00:00.000Z", error: failure });
    expect(overallHealth(session, [feed("stopped")])).toBe("failed");
  });

  it("builds the report with the agent's uptime and the inputs as given", () => {
    const report = buildHealthReport({
      deviceId: "box",
      agentVersion: "1.2.3",
      now: new Date("2026-11-26T10:01:30Z"),
      agentStartedAt: since,
      system,
      session: sessionReport({ kind: "live" }, since),
      feeds: [feed("running")],
    });
    expect(report).toEqual({
      deviceId: "box",
      agentVersion: "1.2.3",
      at: "2026-11-26T10:01:30.000Z",
      overall: "ok",
      agentUptimeSeconds: 90,
      system,
      session: { state: "live", since: "2026-11-26T10:00:00.000Z" },
      feeds: [feed("running")],
    });
  });

  const middle = () => 0.5;
  const lowest = () => 0;
  const highest = () => 0.999_999;

  it.each<[string, () => number, number[]]>([
    ["without jitter", middle, [0, 500, 1000, 2000, 30_000, 30_000, 30_000]],
    ["at the low end of the jitter", lowest, [0, 400, 800, 1600, 24_000, 24_000, 24_000]],
    ["at the high end of the jitter", highest, [0, 600, 1200, 2400, 36_000, 36_000, 36_000]],
  ])(
    "retries a crash at once, then backs off, then slowly after 5 in a row (%s)",
    (_case, random, delays) => {
      const plans = [1, 2, 3, 4, 5, 6, 7].map((attempt) => restartPlan(attempt, random));
      expect(plans.map((plan) => plan.delayMs)).toEqual(delays);
      expect(plans.map((plan) => plan.slowly)).toEqual([false, false, false, false, true, true, true]);
    },
  );

  it("spreads each delay by the random source it is given, within the jitter", () => {
    const draws = [0.1, 0.9];
    const random = () => draws.shift() ?? 0.5;
    expect([restartPlan(3, random).delayMs, restartPlan(3, random).delayMs]).toEqual([840, 1160]);
  });

  it("caps the exponential backoff when slow retries come later", () => {
    const policy = { ...DEFAULT_RESTART_POLICY, jitter: 0, slowAfterFailures: 10 };
    const delays = [6, 7, 9, 10].map((attempt) => restartPlan(attempt, middle, policy).delayMs);
    expect(delays).toEqual([8000, 10_000, 10_000, 30_000]);
  });

  it.each<[number, number | undefined, number, string]>([
    [0, undefined, 1, "a first failure"],
    [3, undefined, 4, "a worker that never started"],
    [3, 2_000, 4, "a worker that failed soon after starting"],
    [6, STABLE_RUN_MS, 1, "a worker that had run stably (hours apart)"],
  ])(
    "counts %i failures in a row, then one after %s ms, as %i: %s",
    (previous, ranForMs, expected, _case) => {
      expect(consecutiveFailures(previous, ranForMs)).toBe(expected);
    },
  );
});
