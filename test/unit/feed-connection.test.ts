import pino from "pino";
import { describe, expect, it } from "vitest";
import { FeedConnection } from "../../agent/app/feed-connection.js";
import type { IceRestartResult, Publisher, PublisherEvents } from "../../agent/app/ports.js";
import { SpokeError } from "../../agent/core/errors.js";
import type { FeedLinkStatus } from "../../agent/core/feed-status.js";
import type { WhipFailure } from "../../agent/core/whip/retry.js";
import { plannedFeed, testConfig } from "../helpers/agent-fixtures.js";
import { flush, ManualClock } from "../helpers/manual-clock.js";

const quiet = pino({ level: "silent" });
const settings = plannedFeed(testConfig("http://hub.invalid/whip"));

/** What the fake hub does with the next connect or restart. */
type ConnectScript = "ok" | WhipFailure | "bad-answer";

class FakePublisher implements Publisher {
  packets = 0;
  closed = false;
  connected = false;
  /** As the publisher holds video back until the connection's first keyframe. */
  holding = false;
  constructor(
    readonly events: PublisherEvents,
    private readonly connectAs: ConnectScript,
    private readonly restartAs: IceRestartResult | "throws" | "hangs",
  ) {}
  async connect(): Promise<void> {
    await Promise.resolve();
    if (this.closed) throw new SpokeError("SPOKE_WEBRTC_FAILED", "closed while connecting");
    if (this.connectAs === "bad-answer") throw new SpokeError("SPOKE_WHIP_BAD_ANSWER", "no video");
    if (this.connectAs !== "ok")
      throw Object.assign(new SpokeError("SPOKE_WHIP_UNREACHABLE", "down"), { script: this.connectAs });
    this.connected = true;
  }
  writeRtp(): void {
    this.packets += 1;
  }
  writeAudioRtp(): void {}
  holdingVideo(): boolean {
    return this.holding;
  }
  markDiscontinuity(): void {}
  async restartIce(): Promise<IceRestartResult> {
    if (this.restartAs === "throws") throw new SpokeError("SPOKE_WHIP_UNREACHABLE", "hub gone");
    if (this.restartAs === "hangs") return new Promise(() => {});
    return this.restartAs;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

/** A connection over fake publishers that follow `connects` (one per publisher made) and `restart`. */
function rig(connects: ConnectScript[], restart: IceRestartResult | "throws" | "hangs" = "restarted") {
  const clock = new ManualClock();
  const made: FakePublisher[] = [];
  const links: FeedLinkStatus[] = [];
  let keyframes = 0;
  const connection = new FeedConnection(
    settings,
    {
      onKeyframeRequest: () => {
        keyframes += 1;
      },
      onConnectionLost: () => {},
      onLinkChange: (link) => links.push(link),
    },
    quiet,
    (_settings, events) => {
      const publisher = new FakePublisher(events, connects.shift() ?? "ok", restart);
      made.push(publisher);
      return publisher;
    },
    {
      clock,
      random: () => 0.5,
      failureOf: (error) => (error as { script?: WhipFailure }).script,
    },
  );
  /** Media every 33 ms; the hub's RTCP every 500 ms while `hubUp()`. */
  const run = (ms: number, hubUp: () => boolean) =>
    clock.advance(ms, 33, (now) => {
      connection.writeRtp(Buffer.alloc(0));
      const current = made.at(-1);
      if (hubUp() && current?.connected && !current.closed && now % 495 < 33) current.events.onRtcp?.();
    });
  return { clock, made, links, connection, run, keyframes: () => keyframes };
}

describe("a feed's connection to its hub", () => {
  it("stays connected while the hub reports", async () => {
    const { connection, run, links } = rig(["ok"]);
    await connection.connect();
    await run(10_000, () => true);
    expect(connection.link()).toEqual({ state: "connected", reconnects: 0 });
    expect(links.map((l) => l.state)).toEqual(["connected"]);
  });

  it("does not take a blocked event loop for a silent hub", async () => {
    const { connection, run, made, clock } = rig(["ok"]);
    await connection.connect();
    await run(2000, () => true);
    // 2.5 s without a turn of the loop: the hub's RTCP waits in the socket until after the timers. Our
    // own media waited too, and a pause in sending restarts the silence count.
    await clock.advance(2500, 2500, () => connection.writeRtp(Buffer.alloc(0)));
    made[0]?.events.onRtcp?.();
    await run(1000, () => true);
    expect(connection.link()).toEqual({ state: "connected", reconnects: 0 });
  });

  it("does not count video held back for the first keyframe as media the hub is silent on", async () => {
    const { connection, run, made } = rig(["ok"]);
    await connection.connect();
    const [publisher] = made;
    if (!publisher) throw new Error("no publisher");
    publisher.holding = true;
    await run(3000, () => false);
    expect(connection.link()).toEqual({ state: "connected", reconnects: 0 });
    publisher.holding = false;
    await run(1000, () => true);
    expect(connection.link()).toEqual({ state: "connected", reconnects: 0 });
  });

  it("notices a silent hub in about 2 s and gets media back with an ICE restart and a keyframe", async () => {
    let hubUp = true;
    const { connection, run, made, links, keyframes } = rig(["ok"], "restarted");
    await connection.connect();
    await run(3000, () => hubUp);
    hubUp = false;
    await run(1800, () => hubUp);
    expect(connection.link().state).toBe("connected");
    await run(700, () => hubUp);
    expect(connection.link().state).toBe("reconnecting");
    hubUp = true;
    await run(1000, () => hubUp);
    expect(connection.link()).toEqual({ state: "connected", reconnects: 1 });
    expect(made).toHaveLength(1);
    expect(keyframes()).toBe(1);
    expect(links.map((l) => l.state)).toEqual(["connected", "reconnecting", "connected"]);
  });

  it("makes a new session when ICE cannot restart, DELETEs the old one, and waits for a hub that is down", async () => {
    let hubUp = true;
    const down: WhipFailure = { kind: "network" };
    const { connection, run, made, links, keyframes } = rig(["ok", down, down, down, "ok"], "throws");
    await connection.connect();
    await run(2000, () => hubUp);
    hubUp = false;
    await run(2500, () => hubUp);
    expect(made[0]?.closed).toBe(true);
    expect(connection.link().state).toBe("waiting-for-hub");
    expect(connection.link().lastError?.code).toBe("SPOKE_WHIP_UNREACHABLE");
    hubUp = true;
    // Retries after 0.5, 1 and 1 s: the fourth new session is made and connects.
    await run(4000, () => hubUp);
    expect(made.map((p) => p.closed)).toEqual([true, true, true, true, false]);
    expect(connection.link()).toEqual({ state: "connected", reconnects: 1 });
    expect(keyframes()).toBe(1);
    expect(new Set(links.map((l) => l.state))).toEqual(
      new Set(["connected", "reconnecting", "waiting-for-hub"]),
    );
    // Media goes to the new session only.
    const before = made[4]?.packets ?? 0;
    await run(1000, () => hubUp);
    expect(made[4]?.packets).toBeGreaterThan(before);
  });

  it("falls back to a new session when the ICE restart brings no RTCP back within 3 s", async () => {
    let hubUp = true;
    const { connection, run, made } = rig(["ok", "ok"], "restarted");
    await connection.connect();
    await run(2000, () => hubUp);
    hubUp = false;
    await run(2500, () => hubUp);
    expect(made).toHaveLength(1);
    await run(3500, () => hubUp);
    expect(made).toHaveLength(2);
    expect(made[0]?.closed).toBe(true);
    hubUp = true;
    await run(3000, () => hubUp);
    expect(connection.link().state).toBe("connected");
  });

  it("leaves nothing behind when closed while waiting for the hub: no timer, no open publisher", async () => {
    let hubUp = true;
    const down: WhipFailure = { kind: "http", status: 503, retryAfterMs: 30_000 };
    const { connection, run, made, clock } = rig(["ok", down], "unsupported");
    await connection.connect();
    await run(2000, () => hubUp);
    hubUp = false;
    await run(3000, () => hubUp);
    expect(connection.link().state).toBe("waiting-for-hub");
    expect(clock.pending).toBeGreaterThan(0);
    await connection.close();
    await flush();
    expect(clock.pending).toBe(0);
    expect(connection.openPublishers).toBe(0);
    expect(made.every((p) => p.closed)).toBe(true);
    await run(60_000, () => true);
    expect(made).toHaveLength(2);
  });

  it("gives up an ICE restart the hub does not answer, and a close then leaves no timer", async () => {
    let hubUp = true;
    const { connection, run, made, clock } = rig(["ok", "ok"], "hangs");
    await connection.connect();
    await run(2000, () => hubUp);
    hubUp = false;
    await run(2500, () => hubUp);
    expect(connection.link().state).toBe("reconnecting");
    await connection.close();
    expect(clock.pending).toBe(0);
    expect(made.every((p) => p.closed)).toBe(true);
  });

  it("retries a start the hub answers with 503 and Retry-After; fails a bad answer at once", async () => {
    const busy: WhipFailure = { kind: "http", status: 503, retryAfterMs: 1000 };
    const { connection, clock, made } = rig([busy, "ok"]);
    const connecting = connection.connect();
    await clock.advance(1100);
    await connecting;
    expect(made.map((p) => p.closed)).toEqual([true, false]);
    expect(connection.link().state).toBe("connected");

    const broken = rig(["bad-answer"]);
    await expect(broken.connection.connect()).rejects.toMatchObject({ code: "SPOKE_WHIP_BAD_ANSWER" });
    expect(broken.made.map((p) => p.closed)).toEqual([true]);
  });
});
