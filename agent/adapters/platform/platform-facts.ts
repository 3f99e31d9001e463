import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { PlatformFacts } from "../../core/encoder-choice.js";

/** Where the facts live; a test points these at a folder it made. */
export interface PlatformPaths {
  deviceTreeModel: string;
  drmClass: string;
  tegraRelease: string;
}

export const SYSTEM_PLATFORM_PATHS: PlatformPaths = {
  deviceTreeModel: "/proc/device-tree/model",
  drmClass: "/sys/class/drm",
  tegraRelease: "/etc/nv_tegra_release",
};

/** Reads what decides the platform: the board model, the GPUs' vendors, a Jetson's release file. */
export async function readPlatformFacts(
  paths: PlatformPaths = SYSTEM_PLATFORM_PATHS,
): Promise<PlatformFacts> {
  const model = await readText(paths.deviceTreeModel);
  const facts: PlatformFacts = {
    renderNodeVendors: await renderNodeVendors(paths.drmClass),
    tegra: (await readText(paths.tegraRelease)) !== undefined,
  };
  // The device tree's strings end in a NUL.
  if (model !== undefined) facts.deviceTreeModel = model.replace(/\0+$/, "").trim();
  return facts;
}

async function renderNodeVendors(drmClass: string): Promise<string[]> {
  const names = await readdir(drmClass).catch(() => [] as string[]);
  const vendors = await Promise.all(
    names
      .filter((name) => name.startsWith("renderD"))
      .map((name) => readText(join(drmClass, name, "device", "vendor"))),
  );
  return vendors.filter((vendor) => vendor !== undefined).map((vendor) => vendor.trim().toLowerCase());
}

async function readText(path: string): Promise<string | undefined> {
  return readFile(path, "utf8").catch(() => undefined);
}
