import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SpokeConfig } from "../agent/config/schema.js";
import { parseConfig } from "../agent/config/validate.js";

export interface BenchFeeds {
  count: number;
  pattern: string;
  width: number;
  height: number;
  bitrateKbps: number;
  whipUrl: string;
  /** The bench's scratch folder: the control socket goes there. */
  dir: string;
}

/** N test feeds to one WHIP endpoint, no reachable broker, warnings only: what the benches run. */
export function benchConfig(feeds: BenchFeeds): SpokeConfig {
  return parseConfig(
    {
      deviceId: "bench",
      feeds: Array.from({ length: feeds.count }, (_, i) => ({
        id: `feed-${i + 1}`,
        source: { type: "test", pattern: feeds.pattern },
        width: feeds.width,
        height: feeds.height,
        bitrateKbps: feeds.bitrateKbps,
        whip: { url: feeds.whipUrl },
      })),
      mqtt: { url: "mqtt://127.0.0.1:9" },
      control: { socketPath: join(feeds.dir, "control.sock") },
      logLevel: "warn",
    },
    "bench config",
  );
}

/** The command-line options (node:util parseArgs) every agent benchmark takes: its test feeds. */
export function feedOptions(defaultFeeds: number) {
  return {
    feeds: { type: "string", default: String(defaultFeeds) },
    width: { type: "string", default: "1280" },
    height: { type: "string", default: "720" },
    bitrate: { type: "string", default: "2000" },
  } as const;
}

export interface FeedValues {
  feeds: string;
  width: string;
  height: string;
  bitrate: string;
}

/** The config of `feedOptions`' values, publishing to `whipUrl`, in a fresh scratch folder `dir`. */
export function benchConfigFromArgs(
  values: FeedValues,
  whipUrl: string,
  pattern = "smpte",
): { config: SpokeConfig; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), "spoke-bench-"));
  const config = benchConfig({
    count: Number(values.feeds),
    pattern,
    width: Number(values.width),
    height: Number(values.height),
    bitrateKbps: Number(values.bitrate),
    whipUrl,
    dir,
  });
  return { config, dir };
}
