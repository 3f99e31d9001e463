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
