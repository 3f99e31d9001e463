import type { ErrorInfo } from "../../core/errors.js";
import type { SessionReport } from "../../core/health.js";

/** The local control socket speaks one JSON object per line in each direction. */
export const CONTROL_COMMANDS = ["start", "stop", "toggle", "status"] as const;
export type ControlCommand = (typeof CONTROL_COMMANDS)[number];

export type ControlResponse =
  | { ok: true; accepted: boolean; session: SessionReport }
  | { ok: false; error: ErrorInfo };

export function isControlCommand(value: unknown): value is ControlCommand {
  return typeof value === "string" && (CONTROL_COMMANDS as readonly string[]).includes(value);
}
