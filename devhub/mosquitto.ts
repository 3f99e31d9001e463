import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface RunningBroker {
  url: string;
  port: number;
  process: ChildProcess;
  /** What the broker logged so far (connections with their protocol version, disconnections). */
  log(): string;
  stop(): Promise<void>;
}

const MOSQUITTO = "/usr/sbin/mosquitto";

/** A free TCP port on loopback (bound and released; good enough for a process we start next). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/**
 * Resolves once `port` on loopback accepts a TCP connection; rejects when `child` (the server that is
 * to listen there) exits first, or after `timeoutMs`.
 */
export async function waitForPort(port: number, child: ChildProcess, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${child.spawnfile} exited with code ${child.exitCode}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = createConnection(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${child.spawnfile} did not listen on port ${port} within ${timeoutMs} ms`);
}

/**
 * Starts Debian's Mosquitto on a free loopback port with a throwaway config (anonymous access, no
 * persistence): the broker of the demo and of the tests.
 */
export async function startMosquitto(options: { port?: number } = {}): Promise<RunningBroker> {
  const port = options.port ?? (await freePort());
  const dir = await mkdtemp(join(tmpdir(), "spoke-mosquitto-"));
  const configFile = join(dir, "mosquitto.conf");
  await writeFile(
    configFile,
    [`listener ${port} 127.0.0.1`, "allow_anonymous true", "persistence false", ""].join("\n"),
  );
  // Its own process group: Ctrl-C in the demo's terminal must not take the broker down before the agent
  // has said goodbye over it. So it is not left behind either, it goes when this process exits.
  const child = spawn(MOSQUITTO, ["-c", configFile], { stdio: ["ignore", "ignore", "pipe"], detached: true });
  const killOnExit = (): void => {
    child.kill("SIGKILL");
  };
  process.once("exit", killOnExit);
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      process.off("exit", killOnExit);
      resolve();
    }),
  );
  let log = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    log = (log + chunk).slice(-100_000);
  });
  const spawnFailed = new Promise<never>((_, reject) =>
    child.once("error", (error) =>
      reject(
        new Error(
          `cannot run ${MOSQUITTO} (${error.message}): install it with provisioning/install-deps.sh --demo`,
        ),
      ),
    ),
  );
  spawnFailed.catch(() => undefined); // once listening, a later spawn error has nobody to tell
  await Promise.race([waitForPort(port, child), spawnFailed]);
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    process: child,
    log: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
