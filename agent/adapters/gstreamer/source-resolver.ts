import type { VideoSourcePlan } from "../../../pipelines/feed-pipeline.js";
import type { PlannedFeedSettings } from "../../core/feed-plan.js";
import type { Mode } from "../../core/profiles.js";

/**
 * Turns a feed's configured source into what its worker opens, at every start: a device named by a
 * stable id is looked up again each time, since it may have been replugged (and renumbered) since.
 */
export interface SourceResolver {
  resolve(settings: PlannedFeedSettings, full: Mode): Promise<VideoSourcePlan>;
}

/** Test pictures and CSI cameras need no lookup; a V4L2 device is opened by the path configured. */
export const directSourceResolver: SourceResolver = {
  async resolve(settings, full) {
    const source = settings.feed.source;
    switch (source.type) {
      case "test":
        return { type: "test", pattern: source.pattern };
      case "libcamera":
        return source.camera === undefined
          ? { type: "libcamera" }
          : { type: "libcamera", camera: source.camera };
      case "v4l2":
        return {
          type: "v4l2",
          device: source.device,
          capture: { format: source.format === "mjpeg" ? "mjpeg" : "raw", ...full },
          jpegDecoder: settings.jpegDecoder,
        };
    }
  },
};
