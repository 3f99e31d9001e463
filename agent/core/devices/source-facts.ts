import type { FeedConfig } from "../../config/schema.js";
import type { Platform } from "../encoder-choice.js";
import type { SourceFacts } from "../feed-plan.js";
import { chooseCaptureMode } from "./capture-mode.js";
import { parseSourceId, resolveCaptureNode } from "./identity.js";
import { nativeMode } from "./native.js";
import type { VideoDeviceReport } from "./report.js";

/**
 * What planning knows of each V4L2 feed's device when the agent starts: its native mode (an ultrasound
 * feed takes the scanner's own size and rate) and the USB bandwidth its capture takes. A device that is
 * not plugged in is planned as a nominal 1080p30 source; it is looked at again when the feed starts.
 */
export function sourceFactsFor(
  feeds: readonly FeedConfig[],
  video: readonly VideoDeviceReport[],
  platform: Platform,
): Map<string, SourceFacts> {
  const facts = new Map<string, SourceFacts>();
  for (const feed of feeds) {
    if (feed.source.type !== "v4l2") continue;
    const device = findDevice(feed.source.device, video);
    const native = device?.formats ? nativeMode(device.formats) : undefined;
    if (!device?.formats || !native) continue;
    const entry: SourceFacts = { native };
    const bus = device.bus?.match(/^usb-[^-]+/)?.[0];
    if (bus) {
      const mode = chooseCaptureMode(device.formats, native);
      const rawBytes = mode.width * mode.height * 2 * mode.framerate;
      // The Pi 4's USB 3 ports run USB 2 devices through one shared USB 2 hub.
      entry.capture = {
        usbBus: bus,
        bytesPerSecond: mode.format === "raw" ? rawBytes : rawBytes / 4,
        usb2: platform === "raspberry-pi-4",
      };
    }
    facts.set(feed.id, entry);
  }
  return facts;
}

function findDevice(name: string, video: readonly VideoDeviceReport[]): VideoDeviceReport | undefined {
  try {
    const entries = video.map((report) => {
      const { node, byId, byPath } = report;
      return report.usb ? { node, byId, byPath, usb: report.usb } : { node, byId, byPath };
    });
    const entry = resolveCaptureNode(parseSourceId(name), entries);
    return video.find((report) => report.node === entry.node);
  } catch {
    return undefined;
  }
}
