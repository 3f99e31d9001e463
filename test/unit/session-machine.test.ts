import { describe, expect, it } from "vitest";
import type { ErrorInfo } from "../../agent/core/errors.js";
import { isSessionCommand, sessionInputFor } from "../../agent/core/session-commands.js";
import { type SessionInput, type SessionState, transition } from "../../agent/core/session-machine.js";

const failure: ErrorInfo = { code: "SPOKE_WHIP_HTTP_ERROR", message: "WHIP endpoint answered 401" };
const lost: ErrorInfo = { code: "SPOKE_WEBRTC_FAILED", message: "WebRTC connection failed" };

const idle: SessionState = { kind: "idle" };
const starting: SessionState = { kind: "starting" };
const live: SessionState = { kind: "live" };
const degraded: SessionState = { kind: "degraded" };
const stopping: SessionState = { kind: "stopping" };
const stoppingAfterFailure: SessionState = { kind: "stopping", failure };
const error: SessionState = { kind: "error", failure };

const press: SessionInput = { type: "buttonPressed" };
const start: SessionInput = { type: "startRequested" };
const stop: SessionInput = { type: "stopRequested" };
const published: SessionInput = { type: "published" };
const publishFailed: SessionInput = { type: "publishFailed", error: failure };
const connectionLost: SessionInput = { type: "connectionLost", error: lost };
const stopped: SessionInput = { type: "stopped" };
const feedsLost: SessionInput = { type: "feedsLost" };
const feedsRestored: SessionInput = { type: "feedsRestored" };

type Row = [SessionState, SessionInput, SessionState | "ignored", ("startSession" | "stopSession")?];

const rows: Row[] = [
  [idle, press, starting, "startSession"],
  [idle, start, starting, "startSession"],
  [idle, stop, "ignored"],
  [idle, published, "ignored"],
  [idle, stopped, "ignored"],
  [starting, published, live],
  [starting, press, stopping, "stopSession"],
  [starting, stop, stopping, "stopSession"],
  [starting, publishFailed, stoppingAfterFailure, "stopSession"],
  [starting, connectionLost, { kind: "stopping", failure: lost }, "stopSession"],
  [starting, start, "ignored"],
  [starting, stopped, "ignored"],
  [live, press, stopping, "stopSession"],
  [live, stop, stopping, "stopSession"],
  [live, connectionLost, { kind: "stopping", failure: lost }, "stopSession"],
  [live, start, "ignored"],
  [live, published, "ignored"],
  [live, publishFailed, "ignored"],
  [live, stopped, "ignored"],
  [live, feedsLost, degraded],
  [live, feedsRestored, "ignored"],
  [starting, feedsLost, "ignored"],
  [starting, feedsRestored, "ignored"],
  [degraded, feedsRestored, live],
  [degraded, feedsLost, "ignored"],
  [degraded, press, stopping, "stopSession"],
  [degraded, stop, stopping, "stopSession"],
  [degraded, connectionLost, { kind: "stopping", failure: lost }, "stopSession"],
  [degraded, start, "ignored"],
  [degraded, published, "ignored"],
  [degraded, publishFailed, "ignored"],
  [degraded, stopped, "ignored"],
  [stopping, feedsLost, "ignored"],
  [idle, feedsLost, "ignored"],
  [error, feedsRestored, "ignored"],
  [stopping, stopped, idle],
  [stoppingAfterFailure, stopped, error],
  [stopping, press, "ignored"],
  [stopping, start, "ignored"],
  [stopping, stop, "ignored"],
  [stopping, publishFailed, "ignored"],
  [stopping, connectionLost, "ignored"],
  [error, press, starting, "startSession"],
  [error, start, starting, "startSession"],
  [error, stop, idle],
  [error, published, "ignored"],
  [error, stopped, "ignored"],
];

describe("session state machine", () => {
  it.each(rows)("%j + %j → %j (%s)", (from, input, expected, effect) => {
    const next = transition(from, input);
    if (expected === "ignored") {
      expect(next).toBeUndefined();
      return;
    }
    expect(next?.state).toEqual(expected);
    expect(next?.effect?.type).toBe(effect);
  });

  it("goes round a whole session: press, published, press, stopped", () => {
    const inputs = [press, published, press, stopped];
    let state: SessionState = idle;
    const visited = inputs.map((input) => {
      state = transition(state, input)?.state ?? state;
      return state.kind;
    });
    expect(visited).toEqual(["starting", "live", "stopping", "idle"]);
  });

  it("rides out a lost hub: live, degraded, live again, then stopped by a press", () => {
    const inputs = [press, published, feedsLost, feedsRestored, feedsLost, press, stopped];
    let state: SessionState = idle;
    const visited = inputs.map((input) => {
      state = transition(state, input)?.state ?? state;
      return state.kind;
    });
    expect(visited).toEqual(["starting", "live", "degraded", "live", "degraded", "stopping", "idle"]);
  });
});

describe("session commands", () => {
  it.each([
    ["start", { type: "startRequested" }],
    ["stop", { type: "stopRequested" }],
    ["toggle", { type: "buttonPressed" }],
    ["status", undefined],
  ] as const)("%s stands for %j", (command, input) => {
    expect(sessionInputFor(command)).toEqual(input);
  });

  it("knows its commands and nothing else", () => {
    expect(["start", "toggle", "reboot", 1, undefined].map(isSessionCommand)).toEqual([
      true,
      true,
      false,
      false,
      false,
    ]);
  });
});
