/**
 * Keyframe requests (RTCP PLI) come in bursts: several viewers behind one hub, or a lossy link where every
 * lost keyframe brings another request. Each forced keyframe is a bitrate spike that on a poor link causes
 * more loss, and so more requests. At most one is forced per interval; a request inside it is answered
 * once the interval is over, not dropped, in case the keyframe it came after was lost.
 */
export const MIN_KEYFRAME_INTERVAL_MS = 500;

/** How long to wait before forcing a keyframe: 0 to force now. */
export function keyframeDelayMs(
  lastForcedAtMs: number | undefined,
  nowMs: number,
  minIntervalMs = MIN_KEYFRAME_INTERVAL_MS,
): number {
  if (lastForcedAtMs === undefined) return 0;
  return Math.max(0, lastForcedAtMs + minIntervalMs - nowMs);
}
