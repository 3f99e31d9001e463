import { assertNever, type ErrorInfo } from "./errors.js";

/**
 * The session a staff member starts and ends with one button. Pure: the controller executes the effects.
 *
 *   idle ──press/start──▶ starting ──published──▶ live ◀──feedsRestored──┐
 *    ▲                      │ press/stop/failed     │  └──feedsLost──▶ degraded
 *    │                      ▼                       ▼                     │ press/stop/connectionLost
 *    └──────stopped──── stopping ◀──────────────────┴─────────────────────┘
 *                           │ stopped (after a failure)
 *                           ▼
 *                         error ──press/start──▶ starting;  error ──stop──▶ idle
 *
 * `degraded`: live, but one or more feeds lost the hub and are reconnecting on their own (ICE restart,
 * then a new WHIP session, with backoff while the hub is down). It is not a failure: the session goes on
 * and comes back to `live` when every feed publishes again. `connectionLost` is for a loss that no
 * reconnection can mend; it ends the session in `error`.
 */
export type SessionState =
  | { kind: "idle" }
  | { kind: "starting" }
  | { kind: "live" }
  | { kind: "degraded" }
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
  /** One or more feeds lost the hub and are reconnecting. */
  | { type: "feedsLost" }
  /** Every feed publishes again. */
  | { type: "feedsRestored" }
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
    case "degraded":
      return fromOnAir(state.kind, input);
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
    case "feedsLost":
    case "feedsRestored":
      return undefined;
    default:
      return assertNever(input);
  }
}

/** `live` and `degraded` are both on air: they answer alike but for the feed events, which move between them. */
function fromOnAir(kind: "live" | "degraded", input: SessionInput): Transition | undefined {
  switch (input.type) {
    case "buttonPressed":
    case "stopRequested":
      return STOP;
    case "connectionLost":
      return stopWithFailure(input.error);
    case "feedsLost":
      return kind === "live" ? { state: { kind: "degraded" } } : undefined;
    case "feedsRestored":
      return kind === "degraded" ? { state: { kind: "live" } } : undefined;
    case "startRequested":
    case "published":
    case "publishFailed":
    case "stopped":
      return undefined;
    default:
      return assertNever(input);
  }
}
