import { SpokeError } from "../errors.js";

/**
 * Stable names for capture sources. `/dev/videoN` numbers are handed out in probe order and change when
 * a device is replugged or another appears, so a source is named by what stays: its udev link under
 * `/dev/v4l/by-id` (vendor, product, serial) or `/dev/v4l/by-path` (the USB port), or its USB
 * `vendor:product[:serial]`.
 */
export type SourceId =
  | { kind: "by-id"; path: string }
  | { kind: "by-path"; path: string }
  | { kind: "usb"; vendor: string; product: string; serial?: string };

export interface UsbIdentity {
  /** Four lower-case hex digits, as in sysfs `idVendor`. */
  vendor: string;
  product: string;
  serial?: string;
}

/** One `/dev/videoN` node and everything that names it. */
export interface VideoNodeEntry {
  node: string;
  /** The `/dev/v4l/by-id/…` links that point at this node. */
  byId: string[];
  byPath: string[];
  usb?: UsbIdentity;
  /** sysfs `name` (the card name, e.g. `HD Pro Webcam C920`). */
  name?: string;
  /** sysfs `index`: 0 for a device's first node (UVC: the capture node; 1 is its metadata node). */
  index?: number;
  /** Whether the node captures video (from `v4l2-ctl --info`); unknown without v4l2-ctl. */
  capture?: boolean;
}

const USB_ID = /^([0-9a-f]{4}):([0-9a-f]{4})(?::(.+))?$/i;

/** Reads a configured source name; a bare `/dev/videoN` is refused with `SPOKE_DEVICE_ID_UNSTABLE`. */
export function parseSourceId(text: string): SourceId {
  if (text.startsWith("/dev/v4l/by-id/") && text.length > "/dev/v4l/by-id/".length)
    return { kind: "by-id", path: text };
  if (text.startsWith("/dev/v4l/by-path/") && text.length > "/dev/v4l/by-path/".length)
    return { kind: "by-path", path: text };
  const usb = text.match(USB_ID);
  if (usb) {
    const id: SourceId = {
      kind: "usb",
      vendor: (usb[1] ?? "").toLowerCase(),
      product: (usb[2] ?? "").toLowerCase(),
    };
    return usb[3] ? { ...id, serial: usb[3] } : id;
  }
  const hint = /^\/dev\/video\d+$/.test(text) ? "/dev/videoN renumbers when devices are replugged; " : "";
  throw new SpokeError(
    "SPOKE_DEVICE_ID_UNSTABLE",
    `${JSON.stringify(text)} is not a stable source name: ${hint}use /dev/v4l/by-id/…, /dev/v4l/by-path/… or vendor:product[:serial] (see spoke devices)`,
    { context: { source: text } },
  );
}

export function formatSourceId(id: SourceId): string {
  if (id.kind !== "usb") return id.path;
  return [id.vendor, id.product, ...(id.serial ? [id.serial] : [])].join(":");
}

/** The `N` of a by-id or by-path link ending `-video-indexN`. */
export function linkIndex(link: string): number | undefined {
  const match = link.match(/-video-index(\d+)$/);
  return match ? Number(match[1]) : undefined;
}

const nodeNumber = (node: string) => Number(node.match(/(\d+)$/)?.[1] ?? Number.MAX_SAFE_INTEGER);

/** A node's own index: sysfs `index`, else its links' `-video-indexN`, else unknown (last). */
function indexOf(entry: VideoNodeEntry): number {
  if (entry.index !== undefined) return entry.index;
  const fromLinks = [...entry.byId, ...entry.byPath].map(linkIndex).filter((n) => n !== undefined);
  return fromLinks.length > 0 ? Math.min(...fromLinks) : Number.MAX_SAFE_INTEGER;
}

/** Orders a device's nodes so that the capture node comes first: capture-capable, lowest index, lowest N. */
function byCaptureNodeFirst(a: VideoNodeEntry, b: VideoNodeEntry): number {
  const capture = (e: VideoNodeEntry) => (e.capture === false ? 1 : 0);
  return capture(a) - capture(b) || indexOf(a) - indexOf(b) || nodeNumber(a.node) - nodeNumber(b.node);
}

function matches(id: SourceId, entry: VideoNodeEntry): boolean {
  switch (id.kind) {
    case "by-id":
      return entry.byId.includes(id.path);
    case "by-path":
      return entry.byPath.includes(id.path);
    case "usb":
      return (
        entry.usb?.vendor.toLowerCase() === id.vendor &&
        entry.usb.product.toLowerCase() === id.product &&
        (id.serial === undefined || entry.usb.serial === id.serial)
      );
  }
}

/** Which physical device a node belongs to: its USB identity and port, else the node itself. */
function deviceKey(entry: VideoNodeEntry): string {
  const path = entry.byPath.map((p) => p.replace(/-video-index\d+$/, ""))[0];
  if (path) return path;
  if (entry.usb) return `${entry.usb.vendor}:${entry.usb.product}:${entry.usb.serial ?? ""}`;
  return entry.node;
}

/**
 * The capture node for a source: among the nodes its id names, the capture-capable one with the lowest
 * index (a UVC camera's `index0`, not its metadata node). `SPOKE_DEVICE_NOT_FOUND` when nothing matches
 * or nothing that matches captures; `SPOKE_DEVICE_AMBIGUOUS` when a USB id without serial names two
 * devices (two identical cameras: name them by-path instead).
 */
export function resolveCaptureNode(id: SourceId, entries: readonly VideoNodeEntry[]): VideoNodeEntry {
  const name = formatSourceId(id);
  const found = entries.filter((entry) => matches(id, entry));
  const capturing = found.filter((entry) => entry.capture !== false).sort(byCaptureNodeFirst);
  const [first] = capturing;
  if (!first) {
    const why = found.length > 0 ? "its nodes do not capture video" : "no such device is plugged in";
    throw new SpokeError("SPOKE_DEVICE_NOT_FOUND", `source ${name}: ${why}`, { context: { source: name } });
  }
  const devices = new Set(capturing.map(deviceKey));
  if (id.kind === "usb" && devices.size > 1) {
    throw new SpokeError(
      "SPOKE_DEVICE_AMBIGUOUS",
      `source ${name} names ${devices.size} devices (${capturing.map((e) => e.node).join(", ")}); name one by its serial or by-path link`,
      { context: { source: name, nodes: capturing.map((e) => e.node) } },
    );
  }
  return first;
}

/**
 * The name to configure a node by, most stable first: its by-id link (vendor, product and serial move
 * with the device), else its by-path link (fixed to the port), else the USB id; undefined when the node
 * has none (it cannot be named stably).
 */
export function stableIdOf(entry: VideoNodeEntry): string | undefined {
  const pick = (links: string[]) =>
    [...links].sort((a, b) => (linkIndex(a) ?? 99) - (linkIndex(b) ?? 99) || a.localeCompare(b))[0];
  const usb = entry.usb;
  return (
    pick(entry.byId) ?? pick(entry.byPath) ?? (usb ? formatSourceId({ kind: "usb", ...usb }) : undefined)
  );
}

/** Groups nodes into physical devices, each device's capture node first. */
export function groupByDevice(entries: readonly VideoNodeEntry[]): VideoNodeEntry[][] {
  const groups = new Map<string, VideoNodeEntry[]>();
  for (const entry of entries) {
    const key = deviceKey(entry);
    groups.set(key, [...(groups.get(key) ?? []), entry]);
  }
  return [...groups.values()]
    .map((nodes) => nodes.sort(byCaptureNodeFirst))
    .sort((a, b) => nodeNumber(a[0]?.node ?? "") - nodeNumber(b[0]?.node ?? ""));
}
