import type { CaptureMode as PipelineCapture, VideoSourcePlan } from "../../../pipelines/feed-pipeline.js";
import type { FeedSourceConfig } from "../../config/schema.js";
import { chooseCaptureMode } from "../../core/devices/capture-mode.js";
import { parseSourceId, resolveCaptureNode, type VideoNodeEntry } from "../../core/devices/identity.js";
import type { VideoDeviceReport } from "../../core/devices/report.js";
import type { VideoFormat } from "../../core/devices/v4l2.js";
import { isSpokeError, SpokeError } from "../../core/errors.js";
import type { PlannedFeedSettings } from "../../core/feed-plan.js";
import type { Mode } from "../../core/profiles.js";
import type { SourceResolver } from "../gstreamer/source-resolver.js";
import { readSystemDevices, type SystemDevices } from "./system-devices.js";

type V4l2Source = Extract<FeedSourceConfig, { type: "v4l2" }>;

/**
 * Resolves a V4L2 source on the real system at every start: its stable id to today's node, and the
 * capture format and mode chosen from what the device advertises. A device that is not plugged in is
 * `SPOKE_FEED_SOURCE_MISSING`, so the feed retries until it is.
 */
export class SystemSourceResolver implements SourceResolver {
  /** What the devices are, read once and kept until a device comes or goes: a restart reads no sysfs. */
  private known: Promise<SystemDevices> | undefined;

  constructor(private readonly readDevices: () => Promise<SystemDevices> = () => readSystemDevices()) {}

  /** A device came or went: the next start reads the devices again. */
  invalidate(): void {
    this.known = undefined;
  }

  async resolve(settings: PlannedFeedSettings, full: Mode): Promise<VideoSourcePlan> {
    const source = settings.feed.source;
    switch (source.type) {
      case "test":
        return { type: "test", pattern: source.pattern };
      case "libcamera":
        return source.camera === undefined
          ? { type: "libcamera" }
          : { type: "libcamera", camera: source.camera };
      case "v4l2": {
        const device = await this.findDevice(source);
        return {
          type: "v4l2",
          device: device.node,
          capture: captureFor(source, device.formats, full),
          jpegDecoder: settings.jpegDecoder,
        };
      }
    }
  }

  private async lookUp(
    id: SourceId,
    afresh: boolean,
  ): Promise<{ node: string; formats: VideoFormat[] | null }> {
    if (afresh || !this.known) this.known = this.readDevices();
    const devices = await this.known.catch((error: unknown) => {
      this.known = undefined;
      throw error;
    });
    const entry = resolveCaptureNode(id, devices.video.map(nodeEntry));
    const report = devices.video.find((video) => video.node === entry.node);
    return { node: entry.node, formats: report?.formats ?? null };
  }

  private async findDevice(source: V4l2Source): Promise<{ node: string; formats: VideoFormat[] | null }> {
    let id: SourceId;
    try {
      id = parseSourceId(source.device);
    } catch {
      // Not by-id, by-path or a USB id: a link a udev rule made. The worker opens it as it is and
      // reports it missing if it is; its formats are not known.
      return { node: source.device, formats: null };
    }
    try {
      return await this.lookUp(id, false).catch((error: unknown) => {
        // Not among the devices known: perhaps plugged in since (a missed event); read them once afresh.
        if (isSpokeError(error) && error.code === "SPOKE_DEVICE_NOT_FOUND") return this.lookUp(id, true);
        throw error;
      });
    } catch (error) {
      if (isSpokeError(error) && error.code === "SPOKE_DEVICE_NOT_FOUND") {
        throw new SpokeError(
          "SPOKE_FEED_SOURCE_MISSING",
          `capture device ${source.device} is not plugged in`,
          {
            cause: error,
          },
        );
      }
      throw error;
    }
  }
}

type SourceId = ReturnType<typeof parseSourceId>;

function nodeEntry(video: VideoDeviceReport): VideoNodeEntry {
  const entry: VideoNodeEntry = { node: video.node, byId: video.byId, byPath: video.byPath, capture: true };
  if (video.usb) entry.usb = video.usb;
  return entry;
}

/** The mode closest to the feed's full one among the formats the config allows; as asked when unknown. */
export function captureFor(source: V4l2Source, formats: VideoFormat[] | null, full: Mode): PipelineCapture {
  if (formats === null) return { format: source.format === "mjpeg" ? "mjpeg" : "raw", ...full };
  const allowed =
    source.format === "auto" ? formats : formats.filter((format) => format.kind === source.format);
  if (allowed.length === 0) {
    throw new SpokeError(
      "SPOKE_DEVICE_NO_USABLE_MODE",
      `capture device ${source.device} offers no ${source.format} format (it offers ${formats.map((f) => f.fourcc).join(", ") || "none"})`,
    );
  }
  const mode = chooseCaptureMode(allowed, full);
  const capture: PipelineCapture = {
    format: mode.format,
    width: mode.width,
    height: mode.height,
    framerate: mode.framerate,
  };
  if (mode.gstFormat) capture.rawFormat = mode.gstFormat;
  return capture;
}
