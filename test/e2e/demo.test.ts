import { spawn } from "node:child_process";
import { type AddressInfo, createConnection, createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../devhub/mosquitto.js";
import { exited, FleetWatcher } from "../helpers/agent-process.js";
import { feedStats, launchChromium, waitForFeeds } from "../helpers/chromium.js";
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
  it("shows three feeds of moving 720p video and plays the camera's sound after Enter, and quits cleanly on Ctrl-C", async () => {
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
      const feeds = ["room-camera", "document", "ultrasound"];
      const stats = await waitForFeeds(page, feeds, 30);
      expect(said).toContain("  session starting\n  session live\n");
      for (const feed of feeds) {
        const { frameWidth, frameHeight } = stats[feed]?.video ?? {};
        expect({ feed, width: frameWidth, height: frameHeight }).toEqual({ feed, width: 1280, height: 720 });
      }
      expect(await page.locator(".tile").count()).toBe(3);
      // The pictures move (the clock overlay, the ball), so two screenshots a second apart differ.
      const videos = feeds.map((feed) => page.locator(`.tile[data-feed="${feed}"] video`));
      const first = await Promise.all(videos.map((video) => video.screenshot()));
      await new Promise((resolve) => setTimeout(resolve, 1100));
      for (const [index, video] of videos.entries()) {
        expect((await video.screenshot()).equals(first[index] ?? Buffer.alloc(0))).toBe(false);
      }
      // The room camera's test tone plays once its sound button is pressed.
      const camera = page.locator('.tile[data-feed="room-camera"]');
      await camera.getByRole("button", { name: /sound/ }).click();
      const heard = async () => (await feedStats(page))["room-camera"]?.audio?.packetsReceived ?? 0;
      const before = await heard();
      await new Promise((resolve) => setTimeout(resolve, 2100));
      expect(await heard()).toBeGreaterThan(before + 50);
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
