import type { EncoderId } from "../../pipelines/encoders.js";

/** The kinds of box Spoke knows; each has its own order of encoders to try. */
export const PLATFORMS = [
  "raspberry-pi-4",
  "raspberry-pi-5",
  "intel",
  "nvidia",
  "jetson",
  "generic",
] as const;
export type Platform = (typeof PLATFORMS)[number];

/** Hardware first, then the software fallbacks every box has. */
export const ENCODER_ORDER: Readonly<Record<Platform, readonly EncoderId[]>> = {
  "raspberry-pi-4": ["v4l2h264enc", "x264enc", "openh264enc"],
  // The Pi 5 has no H.264 encoder block at all.
  "raspberry-pi-5": ["x264enc", "openh264enc"],
  intel: ["vah264enc", "vaapih264enc", "qsvh264enc", "x264enc", "openh264enc"],
  nvidia: ["nvh264enc", "x264enc", "openh264enc"],
  jetson: ["nvv4l2h264enc", "x264enc", "openh264enc"],
  generic: ["vah264enc", "vaapih264enc", "nvh264enc", "x264enc", "openh264enc"],
};

/** What the box says about itself, read by the platform adapter. */
export interface PlatformFacts {
  /** `/proc/device-tree/model`, e.g. "Raspberry Pi 4 Model B Rev 1.4". */
  deviceTreeModel?: string;
  /** PCI vendor ids of the DRM render nodes (`0x8086` Intel, `0x10de` NVIDIA, `0x1002` AMD). */
  renderNodeVendors: readonly string[];
  /** `/etc/nv_tegra_release` exists. */
  tegra: boolean;
}

export function detectPlatform(facts: PlatformFacts): Platform {
  const model = facts.deviceTreeModel ?? "";
  if (/Raspberry Pi 5/i.test(model)) return "raspberry-pi-5";
  if (/Raspberry Pi 4|Raspberry Pi Compute Module 4|Raspberry Pi 400/i.test(model)) return "raspberry-pi-4";
  if (facts.tegra || /NVIDIA Jetson/i.test(model)) return "jetson";
  if (facts.renderNodeVendors.includes("0x10de")) return "nvidia";
  if (facts.renderNodeVendors.includes("0x8086")) return "intel";
  return "generic";
}

/** One candidate's outcome: present and proven by a real test encode, or why not. */
export interface ProbeResult {
  encoder: EncoderId;
  usable: boolean;
  /** Why it is not usable (not installed, no device, the test encode failed…), or what it produced. */
  detail: string;
}

export type EncoderPreference = "auto" | EncoderId;

/** The usable encoders in the platform's order, or the preferred one alone when it is usable. */
export function usableEncoders(
  platform: Platform,
  probes: readonly ProbeResult[],
  preference: EncoderPreference = "auto",
): EncoderId[] {
  const usable = new Set(probes.filter((probe) => probe.usable).map((probe) => probe.encoder));
  if (preference !== "auto") return usable.has(preference) ? [preference] : [];
  return ENCODER_ORDER[platform].filter((id) => usable.has(id));
}
