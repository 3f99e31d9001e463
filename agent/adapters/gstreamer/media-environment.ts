import { homedir } from "node:os";
import { join } from "node:path";
import type { Logger } from "pino";
import type { JpegDecoder } from "../../../pipelines/feed-pipeline.js";
import { detectPlatform } from "../../core/encoder-choice.js";
import type { MediaEnvironment } from "../../core/feed-plan.js";
import { readPlatformFacts } from "../platform/platform-facts.js";
import { elementExists, probeEncoders } from "./encoder-probe.js";

const JPEG_DECODERS: readonly JpegDecoder[] = ["v4l2jpegdec", "vajpegdec", "nvjpegdec", "jpegdec"];

/** What this box has for media: its platform, the encoders that passed a test encode, its JPEG decoders. */
export async function readMediaEnvironment(options: {
  cacheDir: string;
  log: Logger;
}): Promise<MediaEnvironment> {
  const platform = detectPlatform(await readPlatformFacts());
  const probes = await probeEncoders(options);
  const present = await Promise.all(
    JPEG_DECODERS.map(async (decoder) => [decoder, await elementExists(decoder)] as const),
  );
  return {
    platform,
    probes,
    jpegDecoders: present.filter(([, exists]) => exists).map(([decoder]) => decoder),
  };
}

/** systemd's CacheDirectory= when run as the service, else the user's cache folder. */
export function defaultCacheDir(): string {
  const fromSystemd = process.env.CACHE_DIRECTORY?.split(":")[0];
  if (fromSystemd) return fromSystemd;
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "spoke");
}
