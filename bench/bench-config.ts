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
