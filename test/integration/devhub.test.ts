import { afterEach, describe, expect, it } from "vitest";
import { DevHub } from "../../devhub/server.js";
import { waitFor } from "../helpers/wait.js";

const hubs: DevHub[] = [];
afterEach(async () => {
  for (const hub of hubs.splice(0)) await hub.stop();
});

/** A viewer page that listens to the hub's events and never answers an offer (a frozen tab). */
async function silentViewer(hub: DevHub): Promise<{ events: string[]; close(): void }> {
  const controller = new AbortController();
  const response = await fetch(`${hub.url}/events`, { signal: controller.signal });
  const events: string[] = [];
  const reader = response.body?.pipeThrough(new TextDecoderStream()).getReader();
  void (async () => {
    for (;;) {
      const chunk = await reader?.read().catch(() => undefined);
      if (!chunk || chunk.done) return;
      events.push(...[...chunk.value.matchAll(/^event: (\w+)$/gm)].map((match) => match[1] ?? ""));
    }
  })();
  return { events, close: () => controller.abort() };
}

describe("the dev hub", () => {
  it("gives up on a page that does not answer before the agent would, and tells the page to drop it", async () => {
    const hub = new DevHub({ port: 0, answerTimeoutMs: 300 });
    hubs.push(hub);
    await hub.start();
    const viewer = await silentViewer(hub);
    try {
      const response = await fetch(hub.whipUrl("room"), {
        method: "POST",
        headers: { "content-type": "application/sdp" },
        body: "v=0\r\n",
      });
      expect(response.status).toBe(504);
      expect(await response.text()).toBe("the viewer page did not answer in time");
      await waitFor("the end of the unanswered offer", () => viewer.events.includes("end"));
      expect(viewer.events.filter((event) => event !== "fleet")).toEqual(["offer", "end"]);
    } finally {
      viewer.close();
    }
  });
});
