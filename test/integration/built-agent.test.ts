import { execFile, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sendControlCommand } from "../../agent/adapters/control/control-client.js";
import { freePort } from "../../devhub/mosquitto.js";
import { testConfig } from "../helpers/agent-fixtures.js";
import { exited, spawnAgent, waitForControlSocket } from "../helpers/agent-process.js";
import { childPids, requiredPid } from "../helpers/proc.js";
import { waitFor } from "../helpers/wait.js";
import { WeriftWhipHub } from "../helpers/werift-whip-hub.js";

const run = promisify(execFile);
let hub: WeriftWhipHub;

beforeAll(async () => {
  // What systemd runs is the compiled agent: build it as the box would.
  await run("npm", ["run", "--silent", "build"]);
  hub = new WeriftWhipHub();
  await hub.start();
}, 120_000);

afterAll(() => hub.stop());

describe("the built agent (dist/, as installed on a box)", () => {
  it("runs a session with its compiled feed worker", async () => {
    const dir = mkdtempSync(join(tmpdir(), "spoke-dist-"));
    const config = testConfig(hub.endpoint);
    const agent = spawnAgent(config, dir, { from: "dist" });
    try {
      await waitForControlSocket(config.control.socketPath);
      await sendControlCommand(config.control.socketPath, "start");
      await waitFor(
        "packets at the hub",
        () => [...hub.sessions.values()].some((s) => s.packets > 100),
        20_000,
      );
      // The feed's worker, and the spare forked for the next start (from a second after a start on).
      const workers = await childPids(requiredPid(agent.pid), "feed-worker.js");
      expect(workers.length).toBeGreaterThanOrEqual(1);
      expect(workers.length).toBeLessThanOrEqual(2);
    } finally {
      agent.kill("SIGTERM");
      expect(await exited(agent)).toEqual({ code: 0, signal: null });
    }
  });

  it("serves the dev hub page from the compiled demo", async () => {
    const port = await freePort();
    const demo = spawn(process.execPath, ["dist/agent/cli.js", "demo", "--port", String(port)], {
      stdio: ["pipe", "ignore", "pipe"],
    });
    let said = "";
    demo.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      said += chunk;
    });
    try {
      await waitFor("the demo", () => said.includes("Spoke demo is running"), 20_000);
      const page = await fetch(`http://127.0.0.1:${port}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain("<title>Spoke dev hub</title>");
    } finally {
      demo.kill("SIGINT");
      expect(await exited(demo)).toEqual({ code: 0, signal: null });
    }
  });
});
