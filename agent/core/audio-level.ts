/**
 * Reading the `level` element's bus messages. gstreamer-superficial hands the per-channel RMS over as
 * GStreamer's serialised value array, e.g. `"< -16.989700 >"` for mono or `"< -20.1, -19.8 >"` for
 * stereo, and digital silence as `-inf`. Only this one number leaves the worker: no audio content.
 */

/** The quietest level reported (RFC 6464's floor for audio levels): digital silence reads as this. */
export const SILENCE_DB = -127;

/** The loudest channel's RMS level in dBFS, rounded to 0.1 dB; undefined when the text holds no level. */
export function parseLevelRms(rms: unknown): number | undefined {
  if (typeof rms === "number") return roundLevel(rms);
  if (typeof rms !== "string") return undefined;
  const values = rms
    .replace(/[<>{}]/g, "")
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "")
    .map((part) => (/^-inf(inity)?$/i.test(part) ? Number.NEGATIVE_INFINITY : Number(part)))
    .filter((value) => !Number.isNaN(value));
  if (values.length === 0) return undefined;
  return roundLevel(Math.max(...values));
}

function roundLevel(db: number): number {
  return Math.round(Math.max(SILENCE_DB, Math.min(0, db)) * 10) / 10;
}

/** Sound flows while the meter keeps reporting: a level older than this means the chain has stopped. */
export const AUDIO_SILENT_AFTER_MS = 2_500;

export function audioFlowing(lastLevelAt: number | undefined, now: number): boolean {
  return lastLevelAt !== undefined && now - lastLevelAt <= AUDIO_SILENT_AFTER_MS;
}
