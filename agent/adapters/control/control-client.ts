import { createConnection, type Socket } from "node:net";
import { SpokeError } from "../../core/errors.js";
import { excerpt } from "../../core/excerpt.js";
import type { SessionCommand } from "../../core/session-commands.js";
import { type ControlResponse, isControlResponse } from "./control-protocol.js";

/** The agent answers at once (commands only change state); longer means it is hung. */
export const DEFAULT_CONTROL_TIMEOUT_MS = 5_000;

/**
 * Sends one command to a running agent and returns its answer. One request per connection: the
 * answer is the first line back. Always settles: with the answer, or with a coded error when no agent
 * listens, the agent hangs up or does not answer in time, or what it answers is not a reply.
 */
export async function sendControlCommand(
  socketPath: string,
  command: SessionCommand,
  { timeoutMs = DEFAULT_CONTROL_TIMEOUT_MS }: { timeoutMs?: number } = {},
): Promise<ControlResponse> {
  const socket = createConnection(socketPath);
  let timer: NodeJS.Timeout | undefined;
  try {
    return await new Promise<ControlResponse>((resolve, reject) => {
      timer = setTimeout(
        () => reject(noAnswer(socketPath, `did not answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      exchange(socket, socketPath, `${JSON.stringify({ command })}\n`, resolve, reject);
    });
  } finally {
    clearTimeout(timer);
    socket.destroy();
  }
}

/**
 * Writes the request and reads the first line back. Reads the raw stream rather than through readline,
 * which re-emits socket errors and would throw them when nobody listens on the interface.
 */
function exchange(
  socket: Socket,
  socketPath: string,
  request: string,
  resolve: (response: ControlResponse) => void,
  reject: (error: SpokeError) => void,
): void {
  let connected = false;
  let received = "";
  socket.setEncoding("utf8");
  socket.on("connect", () => {
    connected = true;
    socket.write(request);
  });
  socket.on("data", (chunk: string) => {
    received += chunk;
    const end = received.indexOf("\n");
    if (end >= 0) settleWith(received.slice(0, end));
  });
  // Errors after connecting (EPIPE, ECONNRESET) mean the agent hung up: 'close' follows and says so.
  socket.on("error", (cause) => {
    if (!connected) reject(connectError(socketPath, cause));
  });
  socket.on("close", () => {
    // A partial line is still what the agent said: judge it rather than calling it silence.
    if (received.trim() !== "") settleWith(received);
    else reject(noAnswer(socketPath, "closed the connection without answering"));
  });

  function settleWith(line: string): void {
    const response = parseResponse(line);
    if (response) resolve(response);
    else reject(badAnswer(socketPath, line));
  }
}

function parseResponse(line: string): ControlResponse | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return isControlResponse(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Why the socket could not be reached: not allowed (a technician outside group spoke), or nobody there. */
export function connectError(socketPath: string, cause: NodeJS.ErrnoException): SpokeError {
  if (cause.code === "EACCES" || cause.code === "EPERM") {
    return new SpokeError(
      "SPOKE_CONTROL_FORBIDDEN",
      `not allowed to use ${socketPath}: only the agent's group may (join group spoke, or use sudo)`,
      { cause },
    );
  }
  return new SpokeError("SPOKE_CONTROL_UNREACHABLE", `no agent is listening on ${socketPath}`, { cause });
}

function noAnswer(socketPath: string, what: string): SpokeError {
  return new SpokeError("SPOKE_CONTROL_NO_ANSWER", `the agent on ${socketPath} ${what}`);
}

function badAnswer(socketPath: string, line: string): SpokeError {
  const shown = JSON.stringify(excerpt(line, 80));
  return new SpokeError(
    "SPOKE_CONTROL_BAD_ANSWER",
    `the agent on ${socketPath} answered something that is not a control reply: ${shown}`,
  );
}
