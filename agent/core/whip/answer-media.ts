import { SpokeError } from "../errors.js";

/**
 * What the hub's SDP answer took of our offer, checked before the answer goes to a WebRTC stack: the
 * stacks accept almost any answer and fail only later at ICE, so the error would not say what is wrong.
 * A rejected media section has port 0 (RFC 3264). Throws `SPOKE_WHIP_BAD_ANSWER` when the video is
 * rejected; a rejected audio is no failure (the hub still gets the picture) and comes back as a warning.
 */
export function checkAnswerMedia(sdp: string, offeredAudio: boolean): { audioRejected?: SpokeError } {
  if (!/^m=video [1-9]/m.test(sdp)) {
    throw new SpokeError(
      "SPOKE_WHIP_BAD_ANSWER",
      "the hub's SDP answer accepts no video (no H.264 at the hub?)",
    );
  }
  if (!offeredAudio || /^m=audio [1-9]/m.test(sdp)) return {};
  return {
    audioRejected: new SpokeError(
      "SPOKE_WHIP_AUDIO_REJECTED",
      "the hub's SDP answer rejects the audio (no Opus at the hub?): publishing video only",
    ),
  };
}

/** The error for an answer the WebRTC stack refused (`cause` is what it threw). */
export function unusableAnswer(cause: unknown): SpokeError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new SpokeError("SPOKE_WHIP_BAD_ANSWER", `the hub's SDP answer cannot be used: ${reason}`, { cause });
}
