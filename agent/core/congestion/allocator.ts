import type { FeedRole } from "../../config/schema.js";
import { ROLE_PRIORITY } from "../capacity.js";
import { type DegradationPolicy, rungFor, STEP_UP_MARGIN } from "../profiles.js";

/**
 * Shares the bitrate the network allows among a site's feeds by clinical priority (ultrasound, then the
 * room camera, then the document camera), and says which step of its degradation ladder each share buys.
 *
 * 1. Floors first, in priority order: a feed below its floor is not worth sending, and an encoder will
 *    not go lower anyway. Floors are given even when they exceed the budget (a link below the sum of the
 *    floors is overloaded whatever we do; the delay controller keeps pushing the estimate down, and
 *    taking a clinical feed off the air is for a person to decide).
 * 2. Then, in priority order, each feed up to what its full mode needs (with the margin `rungFor` wants
 *    before stepping up), so a feed of higher priority reaches its best picture before a lower one gets
 *    more than its floor.
 * 3. Then what is left, in priority order, up to each ceiling.
 *
 * The step comes from `rungFor`, which applies the feed's own policy: ultrasound gives up size and keeps
 * its frame rate, the document camera gives up frame rate and keeps its size; never better than the
 * feed's `bestStep` (set by the overshoot guard when its encoder cannot keep to its share).
 */

export interface FeedDemand {
  id: string;
  role: FeedRole;
  policy: DegradationPolicy;
  /** The ladder step the feed is on now (0 = full mode). */
  step: number;
  /** The best step the feed may take, whatever its share buys (its encoder overshoots above it). */
  bestStep?: number;
}

export interface FeedAllocation {
  id: string;
  bitrateKbps: number;
  step: number;
}

export function allocate(
  totalKbps: number,
  feeds: readonly FeedDemand[],
  siteBudgetKbps?: number,
): FeedAllocation[] {
  const budget = Math.max(
    0,
    Math.min(finite(totalKbps), siteBudgetKbps === undefined ? Infinity : finite(siteBudgetKbps)),
  );
  const order = feeds
    .map((feed, index) => ({ feed, index }))
    .sort((a, b) => ROLE_PRIORITY[a.feed.role] - ROLE_PRIORITY[b.feed.role] || a.index - b.index);
  const given = new Map<number, number>();
  let left = budget;

  for (const { feed, index } of order) {
    const floor = feed.policy.minBitrateKbps;
    given.set(index, floor);
    left -= floor;
  }
  const raise = (index: number, upTo: number) => {
    const now = given.get(index) ?? 0;
    const more = Math.max(0, Math.min(upTo - now, left));
    given.set(index, now + more);
    left -= more;
  };
  for (const { feed, index } of order) raise(index, fullModeKbps(feed.policy));
  for (const { feed, index } of order) raise(index, feed.policy.maxBitrateKbps);

  return feeds.map((feed, index) => {
    const bitrateKbps = Math.floor(given.get(index) ?? feed.policy.minBitrateKbps);
    return { id: feed.id, bitrateKbps, step: rungFor(feed.policy, feed.step, bitrateKbps, feed.bestStep) };
  });
}

/** What the best rung needs to be chosen from below, within the feed's ceiling. */
function fullModeKbps(policy: DegradationPolicy): number {
  const top = policy.ladder[0]?.minKbps ?? policy.minBitrateKbps;
  return Math.min(policy.maxBitrateKbps, Math.max(policy.minBitrateKbps, Math.ceil(top * STEP_UP_MARGIN)));
}

function finite(value: number): number {
  return Number.isFinite(value) ? value : 0;
}
