import { createConnection } from "node:net";
import { createInterface } from "node:readline";
import { SpokeError } from "../../core/errors.js";
import type { SessionCommand } from "../../core/session-commands.js";
import type { ControlResponse } from "./control-protocol.js";

/** Sends one command to a running agent and returns its answer. */
export async function sendControlCommand(
  socketPath: string,
  command: SessionCommand,
): Promise<ControlResponse> {
  const socket = createConnection(socketPath);
  try {
    return await new Promise<ControlResponse>((resolve, reject) => {
      socket.once("error", (cause) =>
        reject(
          new SpokeError("SPOKE_CONTROL_UNREACHABLE", `no agent is listening on ${socketPath}`, { cause }),
        ),
      );
      socket.once("connect", () => {
        // Read only once connected: a readline interface re-throws the socket's connect error.
        createInterface({ input: socket }).once("line", (line) =>
          resolve(JSON.parse(line) as ControlResponse),
        );
        socket.write(`${JSON.stringify({ command })}\n`);
      });
    });
  } finally {
    socket.destroy();
  }
}
