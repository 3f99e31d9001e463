import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";

/** Debian's Chromium; elsewhere (Ubuntu's is a snap) point SPOKE_CHROMIUM at a Chromium or Chrome binary. */
export const CHROMIUM_PATH = process.env.SPOKE_CHROMIUM ?? "/usr/bin/chromium";

/**
 * Debian's Chromium, headless, as root on a closed network: no sandbox (root), no GPU, no QUIC, and no
 * background networking (its connections are refused here). A fresh profile each time. `extraArgs`
 * are further command-line switches, for a caller that needs one more (the benchmarks).
 */
export async function launchChromium(
  extraArgs: readonly string[] = [],
): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = await mkdtemp(join(tmpdir(), "spoke-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--autoplay-policy=no-user-gesture-required",
      ...extraArgs,
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** What the dev hub's viewer page exposes as `window.spokeViewer.stats` (from RTCPeerConnection.getStats). */
export interface ViewerStats {
  framesDecoded: number;
  frameWidth: number;
  frameHeight: number;
  framesPerSecond: number;
  pliCount: number;
  codec: string;
}

/** The page's receive statistics of a feed's sound (inbound-rtp, kind audio). */
export interface ViewerAudioStats {
  packetsReceived: number;
  packetsLost: number;
  totalSamplesReceived: number;
  concealedSamples: number;
  audioLevel: number;
  codec: string;
}

export interface ViewerFeedStats {
  video: ViewerStats | null;
  audio: ViewerAudioStats | null;
}

type ViewerWindow = {
  spokeViewer: { stats: ViewerStats | null; feeds: Record<string, ViewerFeedStats | undefined> };
};

/** Waits until the viewer page has decoded at least `frames` frames, and returns its statistics. */
export async function waitForDecodedFrames(page: Page, frames: number): Promise<ViewerStats> {
  await page.waitForFunction(
    (least) => ((globalThis as unknown as ViewerWindow).spokeViewer.stats?.framesDecoded ?? 0) >= least,
    frames,
    { timeout: 30_000 },
  );
  const stats = await page.evaluate(() => (globalThis as unknown as ViewerWindow).spokeViewer.stats);
  if (!stats) throw new Error("the viewer page has no statistics");
  return stats;
}

/** Waits until the page has decoded at least `frames` frames of every one of `feeds`; returns their statistics. */
export async function waitForFeeds(
  page: Page,
  feeds: readonly string[],
  frames: number,
): Promise<Record<string, ViewerFeedStats>> {
  await page.waitForFunction(
    ({ feeds, frames }) => {
      const seen = (globalThis as unknown as ViewerWindow).spokeViewer.feeds;
      return feeds.every((feed) => (seen[feed]?.video?.framesDecoded ?? 0) >= frames);
    },
    { feeds: [...feeds], frames },
    { timeout: 45_000 },
  );
  return feedStats(page);
}

/** The page's latest statistics of each feed it receives. */
export async function feedStats(page: Page): Promise<Record<string, ViewerFeedStats>> {
  const feeds = await page.evaluate(() => (globalThis as unknown as ViewerWindow).spokeViewer.feeds);
  return feeds as Record<string, ViewerFeedStats>;
}
