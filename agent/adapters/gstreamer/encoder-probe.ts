import { execFile } from "node:child_process";
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import type { Logger } from "pino";
import { ENCODER_IDS, ENCODERS, type EncoderId } from "../../../pipelines/encoders.js";
import { buildProbePipeline, PROBE_LEVEL } from "../../../pipelines/feed-pipeline.js";
import type { ProbeResult } from "../../core/encoder-choice.js";
import { toSpokeError } from "../../core/errors.js";
import {
  browserDecodable,
  emptyStreamFacts,
  profileName,
  readH264Packet,
  type StreamFacts,
} from "../../core/h264-stream.js";
import { FeedWorkerProcess, type WorkerTimings } from "./feed-worker-process.js";
import { forkOnDemand } from "./worker-pool.js";

const run = promisify(execFile);

/**
 * Proves each H.264 encoder on this box by a short real encode: an element that exists is not enough
 * (hardware plugins install everywhere; a missing device, driver or firmware shows only when frames go
 * through). Each candidate encodes a few frames of a test picture in a worker process exactly as a feed
 * would, and the RTP that comes out is read back: parameter sets, profile, a keyframe. Results are cached
 * until the next boot or GStreamer change.
 */
export interface EncoderProbeOptions {
  /** Where the result is cached (systemd's CacheDirectory on a box). */
  cacheDir: string;
  log: Logger;
  candidates?: readonly EncoderId[];
}

const PROBE_TIMINGS: WorkerTimings = {
  startTimeoutMs: 6_000,
  stallTimeoutMs: 3_000,
  stopGraceMs: 1_000,
  memoryLimitBytes: 400 * 1024 * 1024,
};
/** After the first packet, how long the stream has to show its parameter sets and a keyframe. */
const STREAM_PROOF_MS = 3_000;
const CACHE_FILE = "encoder-probe.json";

interface CacheFile {
  key: string;
  results: ProbeResult[];
}

export async function probeEncoders(options: EncoderProbeOptions): Promise<ProbeResult[]> {
  const candidates = options.candidates ?? ENCODER_IDS;
  const key = await probeCacheKey();
  const cached = await readCache(join(options.cacheDir, CACHE_FILE), key);
  if (cached && candidates.every((id) => cached.some((result) => result.encoder === id))) {
    return cached.filter((result) => candidates.includes(result.encoder));
  }
  const results: ProbeResult[] = [];
  for (const encoder of candidates) results.push(await probeOne(encoder, options.log));
  for (const result of results) {
    options.log.info(
      { encoder: result.encoder, usable: result.usable, detail: result.detail },
      "encoder probe",
    );
  }
  await writeCache(join(options.cacheDir, CACHE_FILE), { key, results }).catch((error: unknown) =>
    options.log.warn({ error: String(error) }, "could not cache the encoder probe; it runs again next start"),
  );
  return results;
}

async function probeOne(encoder: EncoderId, log: Logger): Promise<ProbeResult> {
  const element = ENCODERS[encoder].element;
  if (!(await elementExists(element))) {
    return {
      encoder,
      usable: false,
      detail: `no ${element} element (plugin not installed, or no device for it)`,
    };
  }
  try {
    const facts = await testEncode(encoder, log);
    return judge(encoder, facts);
  } catch (error) {
    return { encoder, usable: false, detail: `test encode failed: ${toSpokeError(error).message}` };
  }
}

export async function elementExists(element: string): Promise<boolean> {
  return run("gst-inspect-1.0", ["--exists", element]).then(
    () => true,
    () => false,
  );
}

function testEncode(encoder: EncoderId, log: Logger): Promise<StreamFacts> {
  const worker = new FeedWorkerProcess(`probe-${encoder}`, PROBE_TIMINGS, log, forkOnDemand);
  let facts = emptyStreamFacts();
  return new Promise<StreamFacts>((resolve, reject) => {
    let deadline: NodeJS.Timeout | undefined;
    const finish = (): void => {
      clearTimeout(deadline);
      worker.stop().then(() => resolve(facts), reject);
    };
    worker
      .start((ports) => buildProbePipeline(encoder, ports.video), {
        onRtp: (packet) => {
          facts = readH264Packet(facts, packet);
          if (facts.sps && facts.sawKeyframe) finish();
        },
        // The probe's pipeline ends after a few frames: its stall is the end of the stream.
        onFailure: () => finish(),
        onStats: () => undefined,
      })
      .then(() => {
        deadline ??= setTimeout(finish, STREAM_PROOF_MS);
      }, reject);
  });
}

function judge(encoder: EncoderId, facts: StreamFacts): ProbeResult {
  if (!facts.sps) return { encoder, usable: false, detail: `${facts.packets} RTP packets but no SPS` };
  if (!facts.sawKeyframe) return { encoder, usable: false, detail: "no keyframe in the test encode" };
  const profile = profileName(facts.sps);
  if (!browserDecodable(facts.sps)) {
    return { encoder, usable: false, detail: `produced ${profile}, which browsers do not decode` };
  }
  // What the stream says must be what the SDP will announce: the encoder's profile family, and no
  // higher level than the one pinned in its caps.
  const announced = ENCODERS[encoder].profile;
  const sameFamily =
    profile === announced || (announced === "constrained-baseline" && profile === "baseline");
  if (!sameFamily) {
    return { encoder, usable: false, detail: `produced ${profile} where its caps ask for ${announced}` };
  }
  const pinned = Math.round(Number(PROBE_LEVEL.name) * 10);
  if (facts.sps.levelIdc > pinned) {
    return {
      encoder,
      usable: false,
      detail: `produced level ${facts.sps.levelIdc / 10} above ${PROBE_LEVEL.name}`,
    };
  }
  const level = (facts.sps.levelIdc / 10).toFixed(1);
  return { encoder, usable: true, detail: `test encode: ${profile}, level ${level}, keyframe` };
}

/**
 * Same boot, same GStreamer version, same plugin folder: the same answer. A new plugin, a driver from a
 * package upgrade or a firmware change after a reboot makes the probe run again.
 */
async function probeCacheKey(): Promise<string> {
  const bootId = await readFile("/proc/sys/kernel/random/boot_id", "utf8").catch(() => "no-boot-id");
  const version = await run("gst-inspect-1.0", ["--version"]).then(
    (output) => output.stdout.trim(),
    () => "no-gstreamer",
  );
  const pluginDir = await run("gst-inspect-1.0", ["coreelements"]).then(
    (output) => /Filename\s+(\S+)/.exec(output.stdout)?.[1],
    () => undefined,
  );
  const pluginsChanged = pluginDir
    ? await stat(dirname(pluginDir)).then(
        (info) => info.mtimeMs,
        () => 0,
      )
    : 0;
  return JSON.stringify({ bootId: bootId.trim(), version, pluginsChanged });
}

async function readCache(path: string, key: string): Promise<ProbeResult[] | undefined> {
  try {
    const file = JSON.parse(await readFile(path, "utf8")) as CacheFile;
    return file.key === key && Array.isArray(file.results) ? file.results : undefined;
  } catch {
    return undefined;
  }
}

async function writeCache(path: string, content: CacheFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, JSON.stringify(content, null, 2));
  await rename(temporary, path);
}
