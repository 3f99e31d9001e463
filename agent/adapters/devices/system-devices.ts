import { execFile } from "node:child_process";
import { readdir, readFile, realpath } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { type AudioCaptureDevice, parseArecordList, parseProcAsound } from "../../core/devices/alsa.js";
import type { UsbIdentity } from "../../core/devices/identity.js";
import {
  type SkippedVideoNode,
  type VideoDeviceReport,
  type VideoNodeFacts,
  videoReport,
} from "../../core/devices/report.js";
import { parseDeviceInfo, parseListFormatsExt } from "../../core/devices/v4l2.js";

/**
 * Reads the box's capture devices from the system: sysfs (`/sys/class/video4linux`) for the nodes, their
 * names and USB identity; the udev links in `/dev/v4l/by-id` and `/dev/v4l/by-path`; `v4l2-ctl`
 * (v4l-utils) for capabilities and formats, when installed; `/proc/asound` for ALSA capture devices
 * (`arecord -l` only when those files cannot be read). A machine with none of these has no devices:
 * every list comes back empty, with a note on what was missing, never an error.
 */

/** Runs a command and gives its stdout; rejects when it is missing (`code` `ENOENT`) or fails. */
export type CommandRunner = (command: string, args: readonly string[]) => Promise<string>;

export interface SystemDevicesOptions {
  /** Where `/dev` is; tests point these at a temporary tree. */
  devRoot?: string;
  sysRoot?: string;
  procRoot?: string;
  run?: CommandRunner;
}

export interface SystemDevices {
  video: VideoDeviceReport[];
  audio: AudioCaptureDevice[];
  skipped: SkippedVideoNode[];
  notes: string[];
}

const COMMAND_TIMEOUT_MS = 5000;

export const runCommand: CommandRunner = (command, args) =>
  new Promise((resolve, reject) => {
    execFile(command, [...args], { timeout: COMMAND_TIMEOUT_MS, encoding: "utf8" }, (error, stdout) =>
      error ? reject(error) : resolve(stdout),
    );
  });

const isMissing = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code === "ENOENT";

async function readText(path: string): Promise<string | undefined> {
  return readFile(path, "utf8").then(
    (text) => text.trim(),
    () => undefined,
  );
}

async function list(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

/** `/dev/v4l/by-id/…` (or by-path) links by the name of the node they point at (`video0`). */
async function links(devRoot: string, kind: "by-id" | "by-path"): Promise<Map<string, string[]>> {
  const dir = join(devRoot, "v4l", kind);
  const byNode = new Map<string, string[]>();
  for (const entry of (await list(dir)).sort()) {
    const target = await realpath(join(dir, entry)).catch(() => undefined);
    if (!target) continue;
    const node = basename(target);
    byNode.set(node, [...(byNode.get(node) ?? []), join(devRoot, "v4l", kind, entry)]);
  }
  return byNode;
}

/** The USB device above a video node's interface: `device/../{idVendor,idProduct,serial}`. */
async function usbIdentity(sysNode: string): Promise<UsbIdentity | undefined> {
  const device = await realpath(join(sysNode, "device")).catch(() => undefined);
  if (!device) return undefined;
  for (const dir of [dirname(device), device]) {
    const vendor = await readText(join(dir, "idVendor"));
    const product = await readText(join(dir, "idProduct"));
    if (!vendor || !product) continue;
    const serial = await readText(join(dir, "serial"));
    return { vendor: vendor.toLowerCase(), product: product.toLowerCase(), ...(serial ? { serial } : {}) };
  }
  return undefined;
}

const nodeNumber = (name: string) => Number(name.replace(/^video/, ""));

async function videoNodes(
  options: Required<SystemDevicesOptions>,
  notes: string[],
): Promise<VideoNodeFacts[]> {
  const classDir = join(options.sysRoot, "class", "video4linux");
  const names = (await list(classDir))
    .filter((n) => /^video\d+$/.test(n))
    .sort((a, b) => nodeNumber(a) - nodeNumber(b));
  if (names.length === 0) return [];
  const [byId, byPath] = await Promise.all([
    links(options.devRoot, "by-id"),
    links(options.devRoot, "by-path"),
  ]);
  let v4l2ctl = true;
  const nodes: VideoNodeFacts[] = [];
  for (const name of names) {
    const sysNode = join(classDir, name);
    const node = join(options.devRoot, name);
    const index = await readText(join(sysNode, "index"));
    const usb = await usbIdentity(sysNode);
    const facts: VideoNodeFacts = {
      node,
      byId: byId.get(name) ?? [],
      byPath: byPath.get(name) ?? [],
      ...(usb ? { usb } : {}),
      ...(index !== undefined && /^\d+$/.test(index) ? { index: Number(index) } : {}),
    };
    const sysName = await readText(join(sysNode, "name"));
    if (sysName) facts.name = sysName;
    if (v4l2ctl) {
      try {
        const info = parseDeviceInfo(await options.run("v4l2-ctl", ["-d", node, "--info"]));
        facts.capture = info.capture;
        if (info.driver) facts.driver = info.driver;
        if (info.bus) facts.bus = info.bus;
        if (info.card && !facts.name) facts.name = info.card;
        if (info.capture)
          facts.formats = parseListFormatsExt(
            await options.run("v4l2-ctl", ["-d", node, "--list-formats-ext"]),
          );
      } catch (error) {
        if (isMissing(error)) {
          v4l2ctl = false;
          notes.push(
            "v4l2-ctl not found (Debian package v4l-utils): capture formats and capabilities unknown",
          );
        } else {
          notes.push(
            `${node}: v4l2-ctl failed: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`,
          );
        }
      }
    }
    nodes.push(facts);
  }
  return nodes;
}

async function audioDevices(
  options: Required<SystemDevicesOptions>,
  notes: string[],
): Promise<AudioCaptureDevice[]> {
  const cards = await readText(join(options.procRoot, "asound", "cards"));
  const pcm = await readText(join(options.procRoot, "asound", "pcm"));
  if (cards !== undefined && pcm !== undefined) return parseProcAsound(cards, pcm);
  try {
    return parseArecordList(await options.run("arecord", ["-l"]));
  } catch (error) {
    // arecord exits 1 with "no soundcards found" on a machine without ALSA cards: none, not a failure.
    if (isMissing(error))
      notes.push("no /proc/asound and no arecord (Debian package alsa-utils): audio unknown");
    return [];
  }
}

export async function readSystemDevices(options: SystemDevicesOptions = {}): Promise<SystemDevices> {
  const resolved: Required<SystemDevicesOptions> = {
    devRoot: options.devRoot ?? "/dev",
    sysRoot: options.sysRoot ?? "/sys",
    procRoot: options.procRoot ?? "/proc",
    run: options.run ?? runCommand,
  };
  const notes: string[] = [];
  const [nodes, audio] = await Promise.all([videoNodes(resolved, notes), audioDevices(resolved, notes)]);
  return { ...videoReport(nodes), audio, notes };
}
