import { spawn } from "node:child_process";
import { type AddressInfo, createConnection, createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../devhub/mosquitto.js";
import { exited, FleetWatcher } from "../helpers/agent-process.js";
import { launchChromium, waitForDecodedFrames } from "../helpers/chromium.js";
import { pidsMatching } from "../helpers/proc.js";
import { waitFor } from "../helpers/wait.js";

function brokerUrl(said: string): string {
  const url = /Broker: (mqtt:\/\/127\.0\.0\.1:\d+)/.exec(said)?.[1];
  if (!url) throw new Error(`the demo did not say where its broker is: ${said}`);
  return url;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

let browser: Awaited<ReturnType<typeof launchChromium>>;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(() => browser.close());

describe("the README's demo", () => {
  it("shows moving 720p video in the page after Enter in the terminal, and quits cleanly on Ctrl-C", async () => {
    const port = await freePort();
    // Its own process group, as a terminal gives it: Ctrl-C signals the whole group.
    const demo = spawn(
      process.execPath,
      ["--import", "tsx", "agent/cli.ts", "demo", "--port", String(port)],
      { stdio: ["pipe", "ignore", "pipe"], detached: true },
    );
    let fleet: FleetWatcher | undefined;
    let said = "";
    demo.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      said += chunk;
    });
    try {
      await waitFor("the demo to start", () => said.includes("Spoke demo is running"), 20_000);
      expect(said).toContain(`Open http://localhost:${port}/ in a browser`);
      const page = browser.context.pages()[0] ?? (await browser.context.newPage());
      await page.goto(`http://127.0.0.1:${port}/`);
      await page.locator("#health").getByText("online", { exact: true }).waitFor({ timeout: 15_000 });
      fleet = new FleetWatcher(brokerUrl(said), "demo-box");
      await fleet.start();
      demo.stdin?.write("\n");
      const stats = await waitForDecodedFrames(page, 60);
      expect(said).toContain("  session starting\n  session live\n");
      expect({ width: stats.frameWidth, height: stats.frameHeight }).toEqual({ width: 1280, height: 720 });
      // The picture moves: the clock overlay changes, so two screenshots a second apart differ.
      const first = await page.locator("video").screenshot();
      await new Promise((resolve) => setTimeout(resolve, 1100));
      expect((await page.locator("video").screenshot()).equals(first)).toBe(false);
    } finally {
      process.kill(-(demo.pid ?? Number.NaN), "SIGINT");
      expect(await exited(demo)).toEqual({ code: 0, signal: null });
      await fleet?.stop();
    }
    // The feed worker and the broker got the Ctrl-C too, yet the session ended as a clean stop: no feed
    // failure reported, and the box's last word is "offline", not "lost".
    expect(fleet?.on("events").map((event) => event.type)).toEqual([]);
    expect(fleet?.latest("status")?.state).toBe("offline");
    // Ctrl-C took the demo's broker and hub down with it.
    const brokerPort = Number(new URL(brokerUrl(said)).port);
    expect(await portOpen(brokerPort)).toBe(false);
    expect(await portOpen(port)).toBe(false);
  });

  it("says which port is taken instead of failing obscurely, and leaves no broker behind", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as AddressInfo).port;
    const brokers = () => pidsMatching("spoke-mosquitto-");
    const before = await brokers();
    try {
      const demo = spawn(
        process.execPath,
        ["--import", "tsx", "agent/cli.ts", "demo", "--port", String(port)],
        {
          stdio: ["pipe", "ignore", "pipe"],
        },
      );
      let said = "";
      demo.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
        said += chunk;
      });
      expect(await exited(demo)).toEqual({ code: 1, signal: null });
      expect(said).toBe(`spoke: port ${port} is in use: try ./scripts/demo.sh --port 9090\n`);
      expect(await brokers()).toEqual(before);
    } finally {
      taken.close();
    }
  });
});
