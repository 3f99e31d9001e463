import type { PropertyChange } from "../../../pipelines/encoders.js";
import type { ErrorInfo } from "../../core/errors.js";

/** Messages on the IPC channel between the agent and a feed worker process. */

export type ToWorker =
  | { type: "start"; launch: string; sourceDevice?: string }
  | { type: "keyframe" }
  /** Sets properties on named elements of the running pipeline; answered by `set-result`. */
  | { type: "set"; id: number; changes: PropertyChange[] }
  | { type: "stop" };

/** The worker's own cost, measured inside it: encoding is most of a box's CPU. */
export interface WorkerStats {
  cpuPercent: number;
  memoryBytes: number;
  /** Frame counts since the pipeline started, where it has a frame-rate stage. */
  frames?: FrameCounts;
  /** Pipelines with sound: the level meter's last RMS (dBFS), and whether it still reports. */
  audioLevelDb?: number;
  audioFlowing?: boolean;
}

export interface FrameCounts {
  in: number;
  out: number;
  dropped: number;
}

export type FromWorker =
  /** GStreamer is loaded: the worker waits, with no pipeline and no device open, for its `start`. */
  | { type: "ready" }
  | { type: "playing" }
  | ({ type: "stats" } & WorkerStats)
  | { type: "error"; error: ErrorInfo }
  | { type: "eos" }
  /** The microphone failed; the video goes on. */
  | { type: "audio-failed"; error: ErrorInfo }
  | { type: "set-result"; id: number; error?: string };
