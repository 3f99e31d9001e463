import { execFile, spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { stat } from "node:fs/promises";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { connectError, sendControlCommand } from "../../agent/adapters/control/control-client.js";
import { type RunningAgent, startAgent } from "../../agent/main.js";
import { QUICK_TIMINGS, testConfig, testLog } from "../helpers/agent-fixtures.js";
import { waitFor } from "../helpers/wait.js";
import { WeriftWhipHub } from "../helpers/werift-whip-hub.js";

const run = promisify(execFile);
let hub: WeriftWhipHub;
let agent: RunningAgent;
let socket: string;

beforeAll(async () => {
  hub = new WeriftWhipHub();
  await hub.start();
  // The broker URL points nowhere: the agent must work without its broker.
  const config = testConfig(hub.endpoint, { mqttUrl: "mqtt://127.0.0.1:9" });
  socket = config.control.socketPath;
  agent = await startAgent(config, { log: testLog, workerTimings: QUICK_TIMINGS });
});

afterAll(async () => {
  await agent.stop();
  await hub.stop();
});

function nobodyCanRunTheCli(): boolean {
  if (process.getuid?.() !== 0) return false;
  // An absolute path, as Node resolves modules: every folder above the checkout must be open to nobody.
  const tsx = join(process.cwd(), "node_modules/tsx/package.json");
  const probe = spawnSync("runuser", ["-u", "nobody", "--", "test", "-r", tsx]);
  return probe.status === 0;
}

function spoke(...args: string[]) {
  return run(process.execPath, ["--import", "tsx", "agent/cli.ts", ...args]).catch(
    (error: { code: number; stdout: string; stderr: string }) => error,
  );
}

async function rawRequest(line: string): Promise<unknown> {
  const connection = createConnection(socket);
  connection.write(`${line}\n`);
  const reply = await new Promise<string>((resolve) =>
    createInterface({ input: connection }).once("line", resolve),
  );
  connection.destroy();
  return JSON.parse(reply);
}

/** Fails with `what` if the promise has not settled within `ms`, instead of hanging the test run. */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function connected(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const connection = createConnection(path);
    connection.once("error", reject);
    connection.once("connect", () => resolve(connection));
  });
}

describe("control socket and `spoke session`", () => {
  it("starts, reports and stops a session from the command line, with no broker reachable", async () => {
    expect((await spoke("session", "status", "--socket", socket)).stdout).toBe("session idle\n");
    expect((await spoke("session", "start", "--socket", socket)).stdout).toBe("session starting\n");
    await waitFor("live", () => agent.session.report().state === "live");
    expect((await spoke("session", "start", "--socket", socket)).stdout).toBe(
      "session live (start does not apply while live)\n",
    );
    expect((await spoke("session", "toggle", "--socket", socket)).stdout).toBe("session stopping\n");
    await waitFor("idle", () => agent.session.report().state === "idle");
  });

  it("answers a malformed or unknown request with a specific error and keeps serving", async () => {
    expect(await rawRequest("{not json")).toEqual({
      ok: false,
      error: { code: "SPOKE_CONTROL_BAD_REQUEST", message: "request is not JSON" },
    });
    expect(await rawRequest(JSON.stringify({ command: "reboot" }))).toEqual({
      ok: false,
      error: { code: "SPOKE_CONTROL_BAD_REQUEST", message: 'unknown command "reboot"' },
    });
    expect(await sendControlCommand(socket, "status")).toMatchObject({
      ok: true,
      session: { state: "idle" },
    });
  });

  it("refuses to start a second agent on the same socket, and says why", async () => {
    const second = testConfig(hub.endpoint);
    second.control.socketPath = socket;
    await expect(startAgent(second, { log: testLog })).rejects.toMatchObject({
      code: "SPOKE_CONTROL_UNAVAILABLE",
      message: `cannot open the control socket ${socket}: another Spoke agent is already running on it`,
    });
    expect(await sendControlCommand(socket, "status")).toMatchObject({ ok: true });
  });

  it("says clearly when the control socket cannot be created", async () => {
    const config = testConfig(hub.endpoint);
    config.control.socketPath = "/etc/hostname/control.sock";
    await expect(startAgent(config, { log: testLog })).rejects.toMatchObject({
      code: "SPOKE_CONTROL_UNAVAILABLE",
      message: expect.stringContaining("cannot open the control socket /etc/hostname/control.sock: "),
    });
  });

  it("tells the technician when no agent is running", async () => {
    const result = (await spoke("session", "status", "--socket", "/tmp/no-such-spoke.sock")) as {
      code: number;
      stderr: string;
    };
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      "spoke: SPOKE_CONTROL_UNREACHABLE: no agent is listening on /tmp/no-such-spoke.sock\n",
    );
  });

  it("lets only root and the agent's group use the control socket", async () => {
    expect((await stat(socket)).mode & 0o777).toBe(0o660);
  });

  it("tells a user outside the agent's group that they may not drive the session, and how to fix it", () => {
    const denied = Object.assign(new Error("connect EACCES"), { code: "EACCES" });
    expect(connectError(socket, denied).toInfo()).toEqual({
      code: "SPOKE_CONTROL_FORBIDDEN",
      message: `not allowed to use ${socket}: only the agent's group may (join group spoke, or use sudo)`,
    });
    const absent = Object.assign(new Error("connect ENOENT"), { code: "ENOENT" });
    expect(connectError(socket, absent).code).toBe("SPOKE_CONTROL_UNREACHABLE");
  });

  // As another user for real: needs root to switch user, and a checkout that user can read.
  it.skipIf(!nobodyCanRunTheCli())("is refused to another user, who is told why", async () => {
    const cli = ["--import", "tsx", "agent/cli.ts", "session", "status", "--socket", socket];
    const result = await run("runuser", ["-u", "nobody", "--", process.execPath, ...cli]).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect(result).toMatchObject({
      code: 1,
      stderr: `spoke: SPOKE_CONTROL_FORBIDDEN: not allowed to use ${socket}: only the agent's group may (join group spoke, or use sudo)\n`,
    });
  });

  it("stops even while a client stays connected to the control socket and says nothing", async () => {
    const config = testConfig(hub.endpoint);
    const other = await startAgent(config, { log: testLog, workerTimings: QUICK_TIMINGS });
    // Like `nc -U <socket>` left open in a technician's terminal.
    const idle = await connected(config.control.socketPath);
    const hungUp = new Promise((resolve) => idle.once("close", resolve));
    try {
      await within(10_000, "agent.stop() with an idle control client", other.stop());
      // The agent hung up on the client rather than waiting for it.
      await within(10_000, "the idle client being disconnected", hungUp);
    } finally {
      idle.destroy();
    }
  });

  it("validates a configuration file for the technician, naming each bad field", async () => {
    const ok = await spoke("check-config", "docs/examples/config.json");
    expect(ok.stdout).toContain("docs/examples/config.json: valid");
    // What a technician may paste into a ticket: secrets hidden, but shown to be set.
    expect(ok.stdout).not.toMatch(/replace-with-the-(hub-token|broker-password)/);
    expect(ok.stdout.match(/"\[redacted\]"/g)).toHaveLength(4);
    const bad = (await spoke("check-config", "test/fixtures/bad-config.json")) as {
      code: number;
      stderr: string;
    };
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(
      [
        "spoke: SPOKE_CONFIG_INVALID: test/fixtures/bad-config.json is not a valid configuration:",
        "  feeds.0.whip.url: must be an http:// or https:// URL",
        "  mqtt: Invalid input: expected object, received undefined",
        "",
      ].join("\n"),
    );
  });
});

/** The two ways an agent can hang up without answering: a clean end, or a reset. */
const HANG_UPS: [string, (client: Socket) => void][] = [
  ["ends", (client) => client.end()],
  ["resets", (client) => client.destroy()],
];

/** A stand-in for an agent that misbehaves on the control socket, to test what the client makes of it. */
describe("`spoke session` against an agent that does not answer properly", () => {
  let fake: Server | undefined;
  const clients = new Set<Socket>();

  async function fakeAgent(onConnection: (client: Socket) => void): Promise<string> {
    const path = join(mkdtempSync(join(tmpdir(), "spoke-fake-")), "control.sock");
    fake = createServer((client) => {
      clients.add(client);
      client.on("error", () => undefined);
      onConnection(client);
    });
    const server = fake;
    await new Promise<void>((resolve) => server.listen(path, resolve));
    return path;
  }

  afterEach(async () => {
    for (const client of clients) client.destroy();
    clients.clear();
    const server = fake;
    fake = undefined;
    if (server) await new Promise((resolve) => server.close(resolve));
  });

  it.each(HANG_UPS)(
    "rejects with SPOKE_CONTROL_NO_ANSWER when the agent %s the connection without answering",
    async (_, hangUp) => {
      const path = await fakeAgent(hangUp);
      await expect(within(10_000, "the command", sendControlCommand(path, "status"))).rejects.toMatchObject({
        code: "SPOKE_CONTROL_NO_ANSWER",
        message: `the agent on ${path} closed the connection without answering`,
      });
    },
  );

  it("rejects with SPOKE_CONTROL_NO_ANSWER when the agent never answers", async () => {
    const path = await fakeAgent(() => undefined);
    const command = sendControlCommand(path, "status", { timeoutMs: 200 });
    await expect(within(10_000, "the command", command)).rejects.toMatchObject({
      code: "SPOKE_CONTROL_NO_ANSWER",
      message: `the agent on ${path} did not answer within 200 ms`,
    });
  });

  it.each([
    ["is not JSON", "hello\n"],
    ["is JSON but not a control reply", '{"hello":1}\n'],
    ["is cut off", '{"ok":true,"accepted":'],
  ])("rejects with SPOKE_CONTROL_BAD_ANSWER when the reply %s", async (_, reply) => {
    const path = await fakeAgent((client) => client.end(reply));
    await expect(within(10_000, "the command", sendControlCommand(path, "status"))).rejects.toMatchObject({
      code: "SPOKE_CONTROL_BAD_ANSWER",
      message: expect.stringContaining(
        `the agent on ${path} answered something that is not a control reply: `,
      ),
    });
  });

  // Ending cleanly used to let the command exit 0 with no output; resetting crashed it with a stack trace.
  it.each(HANG_UPS)(
    "makes `spoke session` fail with a clear message when the agent %s the connection unanswered",
    async (_, hangUp) => {
      const path = await fakeAgent(hangUp);
      const result = (await spoke("session", "stop", "--socket", path)) as { code?: number; stderr: string };
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        `spoke: SPOKE_CONTROL_NO_ANSWER: the agent on ${path} closed the connection without answering\n`,
      );
    },
  );
});
