import type { ErrorInfo } from "../../core/errors.js";
import type { SessionReport } from "../../core/health.js";

/**
 * The local control socket speaks one JSON object per line in each direction:
 * `{"command":"toggle"}` → `{"ok":true,"accepted":true,"session":{…}}` or `{"ok":false,"error":{…}}`.
 */
export type ControlResponse =
  | { ok: true; accepted: boolean; session: SessionReport }
  | { ok: false; error: ErrorInfo };

/**
 * Whether a parsed reply has the shape callers rely on. A light check of the fields they read, so that
 * something else on the socket (or another version) gives a coded error rather than a TypeError later.
 */
export function isControlResponse(value: unknown): value is ControlResponse {
  if (!isObject(value)) return false;
  if (value.ok === true) {
    return (
      typeof value.accepted === "boolean" &&
      isObject(value.session) &&
      typeof value.session.state === "string"
    );
  }
  return value.ok === false && isObject(value.error) && typeof value.error.code === "string";
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}
