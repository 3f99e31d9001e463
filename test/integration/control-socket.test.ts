import { execFile } from "node:child_process";
import { createConnection } from "node:net";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sendControlCommand } from "../../agent/adapters/control/control-client.js";
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

  it("validates a configuration file for the technician, naming each bad field", async () => {
    const ok = await spoke("check-config", "docs/examples/config.json");
    expect(ok.stdout).toContain("docs/examples/config.json: valid");
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
