import { chmod, mkdir, rm } from "node:fs/promises";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { dirname } from "node:path";
import { createInterface } from "node:readline";
import type { Logger } from "pino";
import { SpokeError } from "../../core/errors.js";
import { isSessionCommand, type SessionCommand } from "../../core/session-commands.js";
import type { ControlResponse } from "./control-protocol.js";

/** What a command does; returns whether the session accepted it and the session afterwards. */
export type ControlHandler = (command: SessionCommand) => Extract<ControlResponse, { ok: true }>;

/**
 * A Unix socket for `spoke session …`: the local stand-in for the physical button, and how scripts and
 * technicians drive the running agent. Only local users with access to the socket file can use it.
 */
export class ControlServer {
  private server: Server | undefined;
  /** Open connections: close() waits for each to end, so stop() must end them itself. */
  private readonly connections = new Set<Socket>();

  constructor(
    private readonly socketPath: string,
    private readonly handle: ControlHandler,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    if (await answers(this.socketPath)) {
      throw this.unavailable("another Spoke agent is already running on it");
    }
    try {
      await mkdir(dirname(this.socketPath), { recursive: true });
      // A socket file left by a previous run that was killed would make listen() fail with EADDRINUSE.
      await rm(this.socketPath, { force: true });
      const server = createServer((socket) => this.serve(socket));
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(this.socketPath, () => resolve());
      });
      this.server = server;
      // The agent's group may drive the session too: technicians are added to it. Nobody else may.
      await chmod(this.socketPath, 0o660);
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw this.unavailable(
        `${reason} (set control.socketPath, or run under systemd, which creates /run/spoke)`,
      );
    }
    this.log.info({ socket: this.socketPath }, "control socket listening");
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // A client that stays connected (a script, `nc -U`) would otherwise keep stop() waiting forever.
    // Each answer is written as its request arrives (the handler is synchronous), so this drops at most
    // an answer the client has left unread.
    for (const connection of this.connections) connection.destroy();
    await closed;
    await rm(this.socketPath, { force: true });
  }

  private unavailable(reason: string): SpokeError {
    return new SpokeError(
      "SPOKE_CONTROL_UNAVAILABLE",
      `cannot open the control socket ${this.socketPath}: ${reason}`,
    );
  }

  private serve(socket: Socket): void {
    this.connections.add(socket);
    socket.once("close", () => this.connections.delete(socket));
    socket.on("error", () => socket.destroy());
    const lines = createInterface({ input: socket });
    lines.on("line", (line) => socket.write(`${JSON.stringify(this.answer(line))}\n`));
  }

  private answer(line: string): ControlResponse {
    let command: unknown;
    try {
      command = (JSON.parse(line) as { command?: unknown }).command;
    } catch {
      return badRequest("request is not JSON");
    }
    if (!isSessionCommand(command)) return badRequest(`unknown command ${JSON.stringify(command)}`);
    return this.handle(command);
  }
}

function badRequest(message: string): ControlResponse {
  return { ok: false, error: { code: "SPOKE_CONTROL_BAD_REQUEST", message } };
}

/** Whether something listens on the socket already (a second agent must not steal it). */
function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createConnection(socketPath);
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
}
