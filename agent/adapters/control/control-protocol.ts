import type { ErrorInfo } from "../../core/errors.js";
import type { SessionReport } from "../../core/health.js";

/**
 * The local control socket speaks one JSON object per line in each direction:
 * `{"command":"toggle"}` → `{"ok":true,"accepted":true,"session":{…}}` or `{"ok":false,"error":{…}}`.
 */
export type ControlResponse =
  | { ok: true; accepted: boolean; session: SessionReport }
  | { ok: false; error: ErrorInfo };
