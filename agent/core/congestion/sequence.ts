/**
 * Transport-wide sequence numbers are 16 bits on the wire and wrap every 65,536 packets (a few minutes at
 * a few Mbit/s). Internally we count without wrapping, so that "before" and "after" stay meaningful.
 */

export const SEQUENCE_MODULUS = 0x1_0000;

/**
 * The unwrapped number of a 16-bit `wire` value that refers to a packet sent at or before `newest`
 * (unwrapped). Feedback only ever reports packets already sent, so the nearest candidate not after
 * `newest` is the right one; a value the sender never used maps far into the past and is not found.
 */
export function unwrapAtOrBefore(wire: number, newest: number): number {
  const back = (newest - wire) & 0xffff;
  return newest - back;
}

/** The unwrapped number of a 16-bit `wire` value nearest to `reference` (unwrapped), either side. */
export function unwrapNear(wire: number, reference: number): number {
  let delta = (wire - reference) & 0xffff;
  if (delta >= 0x8000) delta -= SEQUENCE_MODULUS;
  return reference + delta;
}
