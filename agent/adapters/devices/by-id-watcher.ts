import { type FSWatcher, statSync, watch } from "node:fs";
import { dirname, relative, sep } from "node:path";
import type { DeviceWatcher } from "../../app/ports.js";

export interface ByIdWatcherOptions {
  /** The folder whose entries are the devices; `/dev/v4l/by-id` unless a test stands in for it. */
  root?: string;
  /** How long a burst of events (udev adds several links per device) is let settle. */
  settleMs?: number;
}

const inode = (path: string) => {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
};

/**
 * Watches `/dev/v4l/by-id` with inotify (`fs.watch`), no polling. udev removes `/dev/v4l` with the last
 * V4L2 device and creates it with the first, so while the folder is absent its nearest existing ancestor
 * (`/dev/v4l`, else `/dev`) is watched for it to appear, and the watch moves back down when it does.
 */
export class ByIdWatcher implements DeviceWatcher {
  private readonly root: string;
  private readonly settleMs: number;
  private readonly listeners = new Set<() => void>();
  private watcher: FSWatcher | undefined;
  private watched: { path: string; ino: number | undefined } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: ByIdWatcherOptions = {}) {
    this.root = options.root ?? "/dev/v4l/by-id";
    this.settleMs = options.settleMs ?? 100;
    this.arm();
  }

  onChange(listener: () => void): () => void {
    const wrapped = () => listener();
    this.listeners.add(wrapped);
    return () => this.listeners.delete(wrapped);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.watcher?.close();
    this.watcher = undefined;
    this.listeners.clear();
  }

  /** The root if it exists, else its nearest existing ancestor. */
  private deepestExisting(): string {
    let path = this.root;
    while (inode(path) === undefined && dirname(path) !== path) path = dirname(path);
    return path;
  }

  private arm(): void {
    this.watcher?.close();
    this.watcher = undefined;
    const path = this.deepestExisting();
    this.watched = { path, ino: inode(path) };
    // Above the root, only the entry on the way down to it matters (`v4l` in `/dev`).
    const next = path === this.root ? undefined : relative(path, this.root).split(sep)[0];
    try {
      this.watcher = watch(path, { persistent: false }, (_event, filename) => {
        if (next === undefined || !filename || filename === next) this.schedule();
      });
      this.watcher.on("error", () => this.schedule());
    } catch {
      // Not watchable (permissions): no hotplug notices, the devices are still read on demand.
      this.watcher = undefined;
    }
    // The root may have appeared between looking and watching.
    if (this.deepestExisting() !== path) this.schedule();
  }

  private schedule(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.settle(), this.settleMs);
  }

  private settle(): void {
    this.timer = undefined;
    if (this.closed) return;
    const watched = this.watched;
    // The watched folder went away, was replaced, or a deeper one appeared: watch the right one.
    if (!watched || this.deepestExisting() !== watched.path || inode(watched.path) !== watched.ino)
      this.arm();
    for (const listener of [...this.listeners]) listener();
  }
}
