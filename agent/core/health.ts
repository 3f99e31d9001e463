import type { ErrorInfo } from "./errors.js";
import type { FeedStatus } from "./feed-status.js";
import type { SessionState, SessionStateKind } from "./session-machine.js";

/** Machine figures read by the sysinfo adapter. */
export interface SystemSnapshot {
  cpuLoadPercent: number;
  memoryUsedPercent: number;
  memoryTotalBytes: number;
  /** null where the platform exposes no sensor (VMs, some NUCs). */
  cpuTemperatureC: number | null;
  osUptimeSeconds: number;
}

export type OverallHealth = "ok" | "degraded" | "failed";

export interface SessionReport {
  state: SessionStateKind;
  since: string;
  error?: ErrorInfo;
}

/** What the box can encode and how much of it the plan uses: the capacity plan at a glance. */
export interface MediaSummary {
  platform: string;
  /** Share of the hardware encoder the feeds' full modes take; null on a box without one. */
  hardwareEncoderLoadPercent: number | null;
  softwareEncoderLoadPercent: number;
  warnings: string[];
}

/** Payload of `spoke/v1/<deviceId>/health`. Contains no patient data: only machine and media figures. */
export interface HealthReport {
  deviceId: string;
  agentVersion: string;
  at: string;
  overall: OverallHealth;
  agentUptimeSeconds: number;
  system: SystemSnapshot;
  session: SessionReport;
  feeds: FeedStatus[];
  media?: MediaSummary;
}

export interface HealthInputs {
  deviceId: string;
  agentVersion: string;
  now: Date;
  agentStartedAt: Date;
  system: SystemSnapshot;
  session: SessionReport;
  feeds: FeedStatus[];
  media?: MediaSummary;
}

export function sessionReport(state: SessionState, since: Date): SessionReport {
  const report: SessionReport = { state: state.kind, since: since.toISOString() };
  if (state.kind === "error") report.error = state.failure;
  if (state.kind === "stopping" && state.failure) report.error = state.failure;
  return report;
}

/**
 * One verdict from the parts: a failed session is `failed`; a session reconnecting to its hub, or a feed
 * being restarted, is `degraded`.
 */
export function overallHealth(session: SessionReport, feeds: readonly FeedStatus[]): OverallHealth {
  if (session.state === "error") return "failed";
  if (session.state === "degraded") return "degraded";
  if (feeds.some((feed) => feed.state === "restarting")) return "degraded";
  return "ok";
}

export function buildHealthReport(inputs: HealthInputs): HealthReport {
  return {
    deviceId: inputs.deviceId,
    agentVersion: inputs.agentVersion,
    at: inputs.now.toISOString(),
    overall: overallHealth(inputs.session, inputs.feeds),
    agentUptimeSeconds: Math.round((inputs.now.getTime() - inputs.agentStartedAt.getTime()) / 1000),
    system: inputs.system,
    session: inputs.session,
    feeds: inputs.feeds,
    ...(inputs.media ? { media: inputs.media } : {}),
  };
}
