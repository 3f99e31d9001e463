import type { AudioCaptureDevice } from "./alsa.js";
import { groupByDevice, stableIdOf, type UsbIdentity, type VideoNodeEntry } from "./identity.js";
import type { FrameRates, FrameSize, VideoFormat } from "./v4l2.js";

/**
 * What `spoke devices` reports. The JSON form (`DevicesReport`) is a stable contract, documented in
 * docs/hardware.md: fields are only ever added; `version` changes if one changes meaning.
 */

/** One H.264 encoder element and whether this box can use it. Filled by the encoder probe. */
export interface EncoderReport {
  /** Short name, e.g. `x264`, `v4l2`, `vaapi`. */
  id: string;
  /** The GStreamer element, e.g. `x264enc`. */
  element: string;
  hardware: boolean;
  usable: boolean;
  /** Why it is not usable, or what `usable` rests on. */
  reason?: string;
  /** True when a test encode succeeded; false when only the element's presence was checked. */
  proven?: boolean;
}

/** Everything the adapter found out about one `/dev/videoN`. */
export interface VideoNodeFacts extends VideoNodeEntry {
  driver?: string;
  bus?: string;
  /** Its capture formats; undefined when they could not be read (no v4l2-ctl). */
  formats?: VideoFormat[];
}

export interface VideoDeviceReport {
  /** The name to put in the configuration: by-id link, else by-path link, else USB id; null if none. */
  id: string | null;
  name: string;
  /** The capture node today; it may change on replug, so configure `id`, not this. */
  node: string;
  byId: string[];
  byPath: string[];
  usb: UsbIdentity | null;
  driver: string | null;
  bus: string | null;
  /** Null when the formats could not be read. */
  formats: VideoFormat[] | null;
}

export interface SkippedVideoNode {
  node: string;
  name: string;
  reason: string;
}

/** The capacity plan for a configuration on this box, when `spoke devices --config` names one. */
export type DevicesPlan =
  | {
      ok: true;
      feeds: {
        id: string;
        role: string;
        encoder: string;
        hardware: boolean;
        mode: { width: number; height: number; framerate: number };
        lowered?: string;
      }[];
      hardware: { usedMbPerSecond: number; capacityMbPerSecond: number };
      software: { usedMbPerSecond: number; capacityMbPerSecond: number };
      warnings: string[];
    }
  | { ok: false; error: string };

export interface DevicesReport {
  version: 1;
  /** The kind of box, which decides the order encoders are tried in. */
  platform: string;
  video: VideoDeviceReport[];
  audio: AudioCaptureDevice[];
  encoders: EncoderReport[];
  /** Video nodes that are not capture devices (codecs, ISPs, metadata-only). */
  skipped: SkippedVideoNode[];
  /** What could not be looked at, e.g. a missing tool. */
  notes: string[];
  plan?: DevicesPlan;
}

/** Puts the devices found and the encoders probed into the one report `spoke devices` prints. */
export function buildDevicesReport(
  found: Pick<DevicesReport, "video" | "audio" | "skipped" | "notes">,
  encoders: readonly EncoderReport[],
  platform = "generic",
): DevicesReport {
  return {
    version: 1,
    platform,
    video: found.video,
    audio: found.audio,
    encoders: [...encoders],
    skipped: found.skipped,
    notes: found.notes,
  };
}

function skipReason(entry: VideoNodeFacts): string {
  if (
    entry.driver?.startsWith("bcm2835-codec") ||
    entry.driver === "bcm2835-isp" ||
    entry.driver === "rpivid"
  )
    return "memory-to-memory codec or ISP, not a camera";
  return "does not capture video";
}

/** Groups the nodes into devices and names each by its most stable id. */
export function videoReport(nodes: readonly VideoNodeFacts[]): {
  video: VideoDeviceReport[];
  skipped: SkippedVideoNode[];
} {
  const video: VideoDeviceReport[] = [];
  const skipped: SkippedVideoNode[] = [];
  for (const group of groupByDevice(nodes) as VideoNodeFacts[][]) {
    const capture = group.find((entry) => entry.capture !== false);
    if (!capture) {
      for (const entry of group)
        skipped.push({ node: entry.node, name: entry.name ?? "", reason: skipReason(entry) });
      continue;
    }
    video.push({
      id: stableIdOf(capture) ?? null,
      name: capture.name ?? "",
      node: capture.node,
      byId: capture.byId,
      byPath: capture.byPath,
      usb: capture.usb ?? null,
      driver: capture.driver ?? null,
      bus: capture.bus ?? null,
      formats: capture.formats ?? null,
    });
  }
  return { video, skipped };
}

function rates(r: FrameRates): string {
  if (r.type === "range") return r.minFps === r.maxFps ? `${r.maxFps}` : `${r.minFps}-${r.maxFps}`;
  return r.fps.length > 0 ? `${Math.max(...r.fps)}` : "?";
}

function size(s: FrameSize): string {
  if (s.type === "discrete") return `${s.width}x${s.height}@${rates(s.rates)}`;
  return `${s.minWidth}x${s.minHeight}-${s.maxWidth}x${s.maxHeight}@${rates(s.rates)}`;
}

function formatLine(f: VideoFormat): string {
  const kind = f.kind === "raw" ? `raw ${f.gstFormat}` : f.kind === "mjpeg" ? "MJPEG" : `${f.kind}, not used`;
  return `    ${f.fourcc} (${kind}): ${f.sizes.map(size).join(" ") || "no sizes"}`;
}

/**
 * The human form: one block per video device (stable id, then one line per format with each size at
 * its highest frame rate), the audio capture devices, the encoders, then what was skipped and why.
 */
export function formatDevicesReport(report: DevicesReport): string {
  const lines: string[] = ["video:"];
  if (report.video.length === 0) lines.push("  none");
  for (const d of report.video) {
    const usb = d.usb
      ? `, usb ${[d.usb.vendor, d.usb.product, ...(d.usb.serial ? [d.usb.serial] : [])].join(":")}`
      : "";
    lines.push(`  ${d.name || "(unnamed)"}: ${d.id ?? "(no stable id)"}`);
    lines.push(`    now ${d.node}${d.driver ? `, ${d.driver}` : ""}${usb}`);
    if (d.formats === null) lines.push("    formats unknown");
    else if (d.formats.length === 0) lines.push("    no capture formats");
    else lines.push(...d.formats.map(formatLine));
  }
  lines.push("audio:");
  if (report.audio.length === 0) lines.push("  none");
  for (const a of report.audio) lines.push(`  ${a.id}: ${a.cardName} (${a.deviceName})`);
  lines.push("encoders:");
  if (report.encoders.length === 0) lines.push("  none");
  for (const e of report.encoders) {
    const state = e.usable ? "usable" : "not usable";
    const why = e.reason ? `: ${e.reason}` : "";
    lines.push(`  ${e.element} (${e.hardware ? "hardware" : "software"}): ${state}${why}`);
  }
  if (report.skipped.length > 0) {
    lines.push("skipped:");
    for (const s of report.skipped) lines.push(`  ${s.node} ${s.name}: ${s.reason}`);
  }
  for (const note of report.notes) lines.push(`note: ${note}`);
  if (report.plan) lines.push(...formatPlan(report.plan));
  return lines.join("\n");
}

export function formatPlan(plan: DevicesPlan): string[] {
  if (!plan.ok) return ["plan:", `  cannot run: ${plan.error}`];
  const lines = ["plan:"];
  for (const feed of plan.feeds) {
    const { width, height, framerate } = feed.mode;
    const lowered = feed.lowered ? ` (lowered: ${feed.lowered})` : "";
    lines.push(
      `  ${feed.id} (${feed.role}): ${width}x${height}@${framerate} on ${feed.encoder} (${feed.hardware ? "hardware" : "software"})${lowered}`,
    );
  }
  const share = (load: { usedMbPerSecond: number; capacityMbPerSecond: number }) =>
    load.capacityMbPerSecond === 0
      ? "none"
      : `${Math.round((load.usedMbPerSecond / load.capacityMbPerSecond) * 100)} % used`;
  lines.push(`  hardware encoder: ${share(plan.hardware)}; software: ${share(plan.software)}`);
  for (const warning of plan.warnings) lines.push(`  warning: ${warning}`);
  return lines;
}
