/**
 * What video leaves when a publication first connects: nothing before it (werift drops what is sent
 * before DTLS is up, and the hub could not decode it), then nothing until the first packet of a
 * keyframe, the one forced at the connection. Delta frames sent ahead of it cannot be decoded: the hub
 * only answers them with PLIs and NACKs, and they take the link and the hub's CPU just when the
 * keyframe needs them. Should no keyframe come within `maxWaitMs` (an encoder that does not answer the
 * request), video flows anyway and the hub's own keyframe requests take over.
 *
 * Pure: time is an argument.
 */
export const FIRST_KEYFRAME_MAX_WAIT_MS = 1_000;

export interface FirstKeyframeGate {
  /** Media can flow from now on. */
  connected(nowMs: number): void;
  /** Whether this video packet is sent; `keyframeStart`: it starts a keyframe (SPS or IDR). */
  admit(keyframeStart: boolean, nowMs: number): boolean;
  /** Video packets held back so far. */
  readonly dropped: number;
  /** Video is sent: the first keyframe (or the wait for it) is over. */
  readonly open: boolean;
}

export function createFirstKeyframeGate(maxWaitMs = FIRST_KEYFRAME_MAX_WAIT_MS): FirstKeyframeGate {
  let connectedAtMs: number | undefined;
  let open = false;
  let dropped = 0;
  return {
    connected(nowMs) {
      connectedAtMs ??= nowMs;
    },
    admit(keyframeStart, nowMs) {
      if (open) return true;
      if (connectedAtMs !== undefined && (keyframeStart || nowMs - connectedAtMs >= maxWaitMs)) {
        open = true;
        return true;
      }
      dropped += 1;
      return false;
    },
    get dropped() {
      return dropped;
    },
    get open() {
      return open;
    },
  };
}
