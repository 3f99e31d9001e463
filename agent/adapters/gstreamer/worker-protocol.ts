import type { ErrorInfo } from "../../core/errors.js";

/** Messages on the IPC channel between the agent and a feed worker process. */

export type ToWorker =
  | { type: "start"; launch: string; sourceDevice?: string }
  | { type: "keyframe" }
  | { type: "bitrate"; kbps: number }
  | { type: "stop" };

export type FromWorker = { type: "playing" } | { type: "error"; error: ErrorInfo } | { type: "eos" };
