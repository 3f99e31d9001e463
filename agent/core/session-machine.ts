import { assertNever, type ErrorInfo } from "./errors.js";

/**
 * The session a staff member starts and ends with one button. Pure: the controller executes the effects.
 *
 *   idle ──press/start──▶ starting ──published──▶ live
 *    ▲                      │ press/stop/failed     │ press/stop/connectionLost
 *    │                      ▼                       ▼
 *    └──────stopped──── stopping ◀──────────────────┘
 *                           │ stopped (after a failure)
 *                           ▼
 *                         error ──press/start──▶ starting;  error ──stop──▶ idle
 */
export type SessionState =
  | { kind: "idle" }
  | { kind: "starting" }
  | { kind: "live" }
  | { kind: "stopping"; failure?: ErrorInfo }
  | { kind: "error"; failure: ErrorInfo };

export type SessionStateKind = SessionState["kind"];

export type SessionInput =
  | { type: "buttonPressed" }
  | { type: "startRequested" }
  | { type: "stopRequested" }
  | { type: "published" }
  | { type: "publishFailed"; error: ErrorInfo }
  | { type: "connectionLost"; error: ErrorInfo }
  | { type: "stopped" };

export type SessionEffect = { type: "startSession" } | { type: "stopSession" };

export interface Transition {
  state: SessionState;
  effect?: SessionEffect;
}

const START: Transition = { state: { kind: "starting" }, effect: { type: "startSession" } };
const STOP: Transition = { state: { kind: "stopping" }, effect: { type: "stopSession" } };

function stopWithFailure(failure: ErrorInfo): Transition {
  return { state: { kind: "stopping", failure }, effect: { type: "stopSession" } };
}

/** Returns the next state and effect, or `undefined` when the input does not apply in this state. */
export function transition(state: SessionState, input: SessionInput): Transition | undefined {
  switch (state.kind) {
    case "idle":
      return input.type === "buttonPressed" || input.type === "startRequested" ? START : undefined;
    case "starting":
      return fromStarting(input);
    case "live":
      return fromLive(input);
    case "stopping":
      if (input.type !== "stopped") return undefined;
      return { state: state.failure ? { kind: "error", failure: state.failure } : { kind: "idle" } };
    case "error":
      if (input.type === "buttonPressed" || input.type === "startRequested") return START;
      return input.type === "stopRequested" ? { state: { kind: "idle" } } : undefined;
    default:
      return assertNever(state);
  }
}

function fromStarting(input: SessionInput): Transition | undefined {
  switch (input.type) {
    case "published":
      return { state: { kind: "live" } };
    case "buttonPressed":
    case "stopRequested":
      return STOP;
    case "publishFailed":
    case "connectionLost":
      return stopWithFailure(input.error);
    case "startRequested":
    case "stopped":
      return undefined;
    default:
      return assertNever(input);
  }
}

function fromLive(input: SessionInput): Transition | undefined {
  switch (input.type) {
    case "buttonPressed":
    case "stopRequested":
      return STOP;
    case "connectionLost":
      return stopWithFailure(input.error);
    case "startRequested":
    case "published":
    case "publishFailed":
    case "stopped":
      return undefined;
    default:
      return assertNever(input);
  }
}
