import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ByIdWatcher } from "../../agent/adapters/devices/by-id-watcher.js";
import { waitFor } from "../helpers/wait.js";

/** A temporary folder stands in for /dev: `<dev>/v4l/by-id` comes and goes as udev's does. */
let dev: string;
let watcher: ByIdWatcher | undefined;

afterEach(() => {
  watcher?.close();
  watcher = undefined;
  vi.restoreAllMocks();
  rmSync(dev, { recursive: true, force: true });
});

function plug(name: string) {
  mkdirSync(join(dev, "v4l", "by-id"), { recursive: true });
  writeFileSync(join(dev, name.replace(/.*-/, "")), "");
  symlinkSync(`../../${name.replace(/.*-/, "")}`, join(dev, "v4l", "by-id", name));
}

function counting() {
  dev = mkdtempSync(join(tmpdir(), "spoke-dev-"));
  watcher = new ByIdWatcher({ root: join(dev, "v4l", "by-id"), settleMs: 20 });
  const seen = { changes: 0 };
  const unsubscribe = watcher.onChange(() => {
    seen.changes++;
  });
  return { seen, unsubscribe };
}

describe("ByIdWatcher", () => {
  it("notices the folder appearing, links added and removed, and the folder going and coming back", async () => {
    const setInterval = vi.spyOn(globalThis, "setInterval");
    const { seen } = counting();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(seen.changes).toBe(0);

    plug("usb-046d_HD_Pro_Webcam_C920_ABCD1234-video0");
    await waitFor("the first device's folder appearing", () => seen.changes >= 1, 5000);

    let before = seen.changes;
    plug("usb-MACROSILICON_USB_Video-video2");
    await waitFor("a second link", () => seen.changes > before, 5000);

    before = seen.changes;
    rmSync(join(dev, "v4l"), { recursive: true });
    await waitFor("the folder going with the last device", () => seen.changes > before, 5000);

    before = seen.changes;
    plug("usb-046d_HD_Pro_Webcam_C920_ABCD1234-video0");
    await waitFor("the folder coming back", () => seen.changes > before, 5000);

    // Still watching the recreated folder itself, not only its parent.
    before = seen.changes;
    rmSync(join(dev, "v4l", "by-id", "usb-046d_HD_Pro_Webcam_C920_ABCD1234-video0"));
    await waitFor("a link removed from the recreated folder", () => seen.changes > before, 5000);

    expect(setInterval).not.toHaveBeenCalled();
  });

  it("ignores unrelated entries beside the folder it waits for", async () => {
    const { seen } = counting();
    writeFileSync(join(dev, "ttyUSB0"), "");
    mkdirSync(join(dev, "snd"));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(seen.changes).toBe(0);
  });

  it("calls no listener after it is removed or the watcher is closed", async () => {
    const { seen, unsubscribe } = counting();
    unsubscribe();
    plug("usb-046d_HD_Pro_Webcam_C920_ABCD1234-video0");
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(seen.changes).toBe(0);

    const again = { changes: 0 };
    watcher?.onChange(() => again.changes++);
    watcher?.close();
    plug("usb-MACROSILICON_USB_Video-video2");
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(again.changes).toBe(0);
  });
});
