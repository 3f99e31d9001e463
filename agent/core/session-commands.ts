import { assertNever } from "./errors.js";
import type { SessionInput } from "./session-machine.js";

/** What a person or a script can ask of the session: the button's meaning, spelled out. */
export const SESSION_COMMANDS = ["start", "stop", "toggle", "status"] as const;
export type SessionCommand = (typeof SESSION_COMMANDS)[number];

export function isSessionCommand(value: unknown): value is SessionCommand {
  return typeof value === "string" && (SESSION_COMMANDS as readonly string[]).includes(value);
}

/** The session input a command stands for; `status` only reads. */
export function sessionInputFor(command: SessionCommand): SessionInput | undefined {
  switch (command) {
    case "start":
      return { type: "startRequested" };
    case "stop":
      return { type: "stopRequested" };
    case "toggle":
      return { type: "buttonPressed" };
    case "status":
      return undefined;
    default:
      return assertNever(command);
  }
}
