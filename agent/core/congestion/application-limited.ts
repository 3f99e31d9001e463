/**
 * Application-limited (ALR) detection: the encoder sends clearly less than the target (a still
 * picture, a document camera), so what is delivered says nothing about the link's spare room. libwebrtc
 * answers with padding probes; passthrough media cannot send padding, so while application-limited and
 * no over-use or loss is seen, rate control lets the target rise towards the feed's profile bitrate
 * instead of holding it at 1.5 × what was delivered. When the picture gets busy the encoder fills the
 * target, the feed leaves ALR, and the link is measured again: an over-use cuts from what was delivered.
 *
 * With hysteresis, as libwebrtc's AlrDetector: in below 65 % of the target, out above 80 %.
 */

export const ALR_ENTER_SHARE = 0.65;
export const ALR_LEAVE_SHARE = 0.8;

export interface ApplicationLimited {
  /** `sentKbps` over the last half second; undefined while too little has been sent to tell. */
  update(sentKbps: number | undefined, targetKbps: number): boolean;
  active(): boolean;
}

export function createApplicationLimited(): ApplicationLimited {
  let active = false;
  return {
    update(sentKbps, targetKbps) {
      if (sentKbps === undefined) return active;
      if (!active && sentKbps < ALR_ENTER_SHARE * targetKbps) active = true;
      else if (active && sentKbps > ALR_LEAVE_SHARE * targetKbps) active = false;
      return active;
    },
    active: () => active,
  };
}
