import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CommandRunner, readSystemDevices } from "../../agent/adapters/devices/system-devices.js";
import type { DevicesReport } from "../../agent/core/devices/report.js";

const run = promisify(execFile);
const fixture = (name: string) => readFileSync(`test/fixtures/devices/${name}`, "utf8");

/**
 * A temporary tree laid out as a Pi's /dev, /sys and /proc are with a C920 plugged in (capture node
 * video1, metadata node video2) and the codec's video10: the cameras are the one part that is not here.
 */
let root: string;
const dev = () => join(root, "dev");
const sys = () => join(root, "sys");

function file(path: string, text: string) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}
function link(target: string, path: string) {
  mkdirSync(dirname(path), { recursive: true });
  symlinkSync(target, path);
}

function sysNode(name: string, deviceDir: string, cardName: string, index: number) {
  const nodeDir = join(sys(), deviceDir, "video4linux", name);
  file(join(nodeDir, "name"), `${cardName}\n`);
  file(join(nodeDir, "index"), `${index}\n`);
  link("../..", join(nodeDir, "device"));
  link(join("../../", deviceDir, "video4linux", name), join(sys(), "class", "video4linux", name));
  file(join(dev(), name), "");
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "spoke-sys-"));
  const usb = "devices/platform/scb/fd500000.pcie/usb1/1-1/1-1.2";
  file(join(sys(), usb, "idVendor"), "046d\n");
  file(join(sys(), usb, "idProduct"), "082d\n");
  file(join(sys(), usb, "serial"), "ABCD1234\n");
  sysNode("video1", `${usb}/1-1.2:1.0`, "HD Pro Webcam C920", 0);
  sysNode("video2", `${usb}/1-1.2:1.0`, "HD Pro Webcam C920", 1);
  sysNode("video10", "devices/platform/soc/bcm2835-codec", "bcm2835-codec-decode", 0);
  const id = "usb-046d_HD_Pro_Webcam_C920_ABCD1234-video-index";
  const path = "platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.2:1.0-video-index";
  for (const [n, video] of [
    [0, "video1"],
    [1, "video2"],
  ] as const) {
    link(`../../${video}`, join(dev(), "v4l", "by-id", `${id}${n}`));
    link(`../../${video}`, join(dev(), "v4l", "by-path", `${path}${n}`));
  }
  file(join(root, "proc", "asound", "cards"), fixture("proc-asound-cards.txt"));
  file(join(root, "proc", "asound", "pcm"), fixture("proc-asound-pcm.txt"));
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** v4l2-ctl answering as it does for these nodes. */
const v4l2ctl: CommandRunner = async (command, args) => {
  const node = args[1]?.replace(/.*\//, "");
  const wanted = `${command} ${args[2]} ${node}`;
  const answers: Record<string, string> = {
    "v4l2-ctl --info video1": fixture("c920-info.txt"),
    "v4l2-ctl --list-formats-ext video1": fixture("c920-list-formats-ext.txt"),
    "v4l2-ctl --info video2": fixture("c920-metadata-info.txt"),
    "v4l2-ctl --info video10": fixture("codec-info.txt"),
  };
  const answer = answers[wanted];
  if (answer === undefined) throw new Error(`unexpected command: ${wanted}`);
  return answer;
};

const missing: CommandRunner = async (command) => {
  throw Object.assign(new Error(`spawn ${command} ENOENT`), { code: "ENOENT" });
};

describe("readSystemDevices", () => {
  it("names the camera by its stable links and USB id, with its formats, and skips the codec", async () => {
    const found = await readSystemDevices({
      devRoot: dev(),
      sysRoot: sys(),
      procRoot: join(root, "proc"),
      run: v4l2ctl,
    });
    expect(found.video).toHaveLength(1);
    const [c920] = found.video;
    expect(c920).toMatchObject({
      id: join(dev(), "v4l/by-id/usb-046d_HD_Pro_Webcam_C920_ABCD1234-video-index0"),
      name: "HD Pro Webcam C920",
      node: join(dev(), "video1"),
      byPath: [join(dev(), "v4l/by-path/platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.2:1.0-video-index0")],
      usb: { vendor: "046d", product: "082d", serial: "ABCD1234" },
      driver: "uvcvideo",
      bus: "usb-0000:01:00.0-1.2",
    });
    expect(c920?.formats?.map((f) => f.fourcc)).toEqual(["YUYV", "H264", "MJPG"]);
    expect(found.skipped).toEqual([
      {
        node: join(dev(), "video10"),
        name: "bcm2835-codec-decode",
        reason: "memory-to-memory codec or ISP, not a camera",
      },
    ]);
    expect(found.audio.map((a) => a.id)).toEqual(["hw:CARD=C920,DEV=0", "hw:CARD=MS2109,DEV=0"]);
    expect(found.notes).toEqual([]);
  });

  it("still finds the camera's capture node without v4l2-ctl, formats unknown, and says why", async () => {
    const found = await readSystemDevices({
      devRoot: dev(),
      sysRoot: sys(),
      procRoot: join(root, "proc"),
      run: missing,
    });
    expect(found.video[0]).toMatchObject({ node: join(dev(), "video1"), formats: null });
    expect(found.notes).toEqual([expect.stringContaining("v4l-utils")]);
  });

  it("reads ALSA from arecord -l when /proc/asound cannot be read", async () => {
    const arecord: CommandRunner = async (command) => {
      if (command !== "arecord") throw Object.assign(new Error("ENOENT"), { code: "ENOENT" });
      return fixture("arecord-l.txt");
    };
    const found = await readSystemDevices({
      devRoot: dev(),
      sysRoot: sys(),
      procRoot: join(root, "none"),
      run: arecord,
    });
    expect(found.audio.map((a) => a.id)).toEqual(["hw:CARD=C920,DEV=0", "hw:CARD=MS2109,DEV=0"]);
  });

  it("finds nothing, without an error, where there is no /dev/v4l, sysfs, ALSA or v4l2-ctl", async () => {
    const none = join(root, "nothing");
    const found = await readSystemDevices({ devRoot: none, sysRoot: none, procRoot: none, run: missing });
    expect(found).toMatchObject({ video: [], audio: [], skipped: [] });
  });

  it("reads this machine", async () => {
    const found = await readSystemDevices();
    for (const list of [found.video, found.audio, found.skipped, found.notes])
      expect(Array.isArray(list)).toBe(true);
    for (const device of found.video) expect(device.node).toMatch(/^\/dev\/video\d+$/);
  });
});

describe("spoke devices", () => {
  const cli = ["--import", "tsx", "agent/cli.ts", "devices"];

  it("prints a JSON report with video, audio and encoder arrays", async () => {
    const { stdout } = await run(process.execPath, [...cli, "--json"]);
    const report = JSON.parse(stdout) as DevicesReport;
    expect(report.version).toBe(1);
    expect(Array.isArray(report.video)).toBe(true);
    expect(Array.isArray(report.audio)).toBe(true);
    expect(report.encoders.map((e) => e.element)).toContain("x264enc");
    for (const encoder of report.encoders) {
      expect(typeof encoder.hardware).toBe("boolean");
      expect(typeof encoder.usable).toBe("boolean");
    }
    // The test machine has GStreamer's x264enc (the suite's pipelines use it).
    // Proven by a real test encode, not only found installed.
    expect(report.encoders.find((e) => e.element === "x264enc")).toMatchObject({
      hardware: false,
      usable: true,
      proven: true,
      reason: expect.stringMatching(/^test encode: constrained-baseline, level \d\.\d, keyframe$/),
    });
    // No hardware here: the hardware encoders are reported, and not usable.
    expect(report.encoders.filter((e) => e.hardware && e.usable)).toEqual([]);
    expect(report.platform).toBe("generic");
  });

  it("with a configuration, shows how each feed would run here, and what cannot", async () => {
    const { stdout } = await run(process.execPath, [
      ...cli,
      "--json",
      "--config",
      "docs/examples/config.json",
    ]);
    const report = JSON.parse(stdout) as DevicesReport;
    expect(report.plan).toMatchObject({ ok: true });
    if (!report.plan?.ok) return;
    expect(report.plan.feeds.map((feed) => [feed.id, feed.role, feed.encoder])).toEqual([
      ["room-camera", "camera", "x264enc"],
      ["document", "document", "x264enc"],
      ["ultrasound", "ultrasound", "x264enc"],
    ]);
  });

  it("prints the human form", async () => {
    const { stdout } = await run(process.execPath, cli);
    expect(stdout).toMatch(/^video:\n/);
    expect(stdout).toMatch(/\naudio:\n/);
    expect(stdout).toMatch(/\n {2}x264enc \(software\): usable: test encode/);
  });
});
