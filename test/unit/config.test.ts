import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { loadConfigFile } from "../../agent/adapters/config/config-file.js";
import { configWithSecretsHidden } from "../../agent/config/secrets.js";
import { parseConfig } from "../../agent/config/validate.js";
import { isSpokeError, type SpokeError } from "../../agent/core/errors.js";
import { renderConfigDocs } from "../../scripts/config-docs.js";
import { configInput } from "../helpers/config.js";

function rejection(input: unknown): SpokeError {
  try {
    parseConfig(input, "box.json");
  } catch (error) {
    if (isSpokeError(error)) return error;
    throw error;
  }
  throw new Error("the configuration was accepted");
}

describe("configuration", () => {
  it("fills in defaults for everything a minimal file leaves out", () => {
    const config = parseConfig(
      configInput({ feeds: [{ id: "cam", source: { type: "test" }, whip: { url: "http://hub/whip" } }] }),
      "x",
    );
    // Size, frame rate and bitrate come from the role's profile once the box is known (see profiles).
    expect(config.feeds[0]).toMatchObject({ role: "camera", encoder: "auto", keyframeIntervalSeconds: 2 });
    expect(config.feeds[0]?.width).toBeUndefined();
    expect(config.feeds[0]?.source).toEqual({ type: "test", pattern: "smpte" });
    expect(config.mqtt).toMatchObject({ protocolVersion: 5, healthIntervalSeconds: 30 });
    expect(config.control.socketPath).toBe("/run/spoke/control.sock");
    expect(config.button.gpio).toBeUndefined();
  });

  it("names every bad field by its path, all at once, with a stable code", () => {
    const error = rejection(
      configInput({
        deviceId: "has space/and+wildcard",
        feeds: [
          { id: "cam", source: { type: "v4l2", device: "video0" }, whip: { url: "ftp://hub" }, width: 99998 },
        ],
        mqtt: { url: "http://broker" },
      }),
    );
    expect(error.code).toBe("SPOKE_CONFIG_INVALID");
    expect(error.context.issues).toEqual([
      "deviceId: use 1-64 letters, digits, '-' or '_' (it becomes part of MQTT topics)",
      "feeds.0.source.device: must be /dev/v4l/by-id/…, /dev/v4l/by-path/…, vendor:product[:serial] (hex ids) or another /dev link (letters, digits and . _ - : / only)",
      "feeds.0.width: Too big: expected number to be <=3840",
      "feeds.0.whip.url: must be an http:// or https:// URL",
      "mqtt.url: must be an mqtt://, mqtts://, ws:// or wss:// URL",
    ]);
    expect(error.message).toContain("box.json is not a valid configuration");
  });

  it("shows a configuration with every secret hidden, and which ones are set", () => {
    const feeds = [
      { id: "cam", source: { type: "test" }, whip: { url: "https://hub/a", bearerToken: "hub-secret" } },
      { id: "doc", source: { type: "test" }, whip: { url: "https://hub/b" } },
    ];
    const config = parseConfig(
      configInput({ feeds, mqtt: { url: "mqtts://fleet", username: "box", password: "mqtt-secret" } }),
      "test",
    );
    const shown = configWithSecretsHidden(config);
    expect(JSON.stringify(shown)).not.toMatch(/hub-secret|mqtt-secret/);
    expect(shown.feeds.map((feed) => feed.whip.bearerToken)).toEqual(["[redacted]", undefined]);
    expect(shown.mqtt).toMatchObject({ username: "box", password: "[redacted]" });
    expect(config.feeds[0]?.whip.bearerToken).toBe("hub-secret");
  });

  it("refuses credentials inside URLs, pointing at the fields meant for them", () => {
    const feed = { id: "cam", source: { type: "test" }, whip: { url: "https://user:secret@hub/whip" } };
    const input = configInput({ feeds: [feed], mqtt: { url: "mqtts://box:secret@fleet:8883" } });
    expect(rejection(input).context.issues).toEqual([
      "feeds.0.whip.url: must not carry a user name or password: use whip.bearerToken",
      "mqtt.url: must not carry a user name or password: use mqtt.username and mqtt.password",
    ]);
  });

  it("takes a stable by-path capture device and refuses sizes H.264 4:2:0 cannot encode", () => {
    const device = "/dev/v4l/by-path/pci-0000:00:14.0-usb-0:2:1.0-video-index0";
    const config = parseConfig(
      configInput({ feeds: [{ id: "us", source: { type: "v4l2", device }, whip: { url: "http://h/w" } }] }),
      "test",
    );
    expect(config.feeds[0]?.source).toEqual({ type: "v4l2", device, format: "auto" });
    const odd = {
      id: "cam",
      source: { type: "test" },
      width: 1279,
      height: 719,
      whip: { url: "http://h/w" },
    };
    expect(rejection(configInput({ feeds: [odd] })).context.issues).toEqual([
      "feeds.0.width: must be even",
      "feeds.0.height: must be even",
    ]);
  });

  it("refuses a device path that could smuggle another GStreamer element in", () => {
    const feed = {
      id: "cam",
      source: { type: "v4l2", device: "/dev/video0 ! filesink location=/tmp/x" },
      whip: { url: "http://h/w" },
    };
    expect(rejection(configInput({ feeds: [feed] })).context.issues).toEqual([
      "feeds.0.source.device: must be /dev/v4l/by-id/…, /dev/v4l/by-path/…, vendor:product[:serial] (hex ids) or another /dev link (letters, digits and . _ - : / only)",
    ]);
  });

  it("refuses /dev/videoN, which renumbers on replug, and takes by-id links and USB identities", () => {
    const feed = (device: string) => ({
      id: "us",
      source: { type: "v4l2", device },
      whip: { url: "http://h/w" },
    });
    expect(rejection(configInput({ feeds: [feed("/dev/video2")] })).context.issues).toEqual([
      "feeds.0.source.device: name the device by a stable id (/dev/v4l/by-id/…, /dev/v4l/by-path/… or vendor:product[:serial]): /dev/videoN renumbers on replug; `spoke devices` lists the ids",
    ]);
    for (const device of [
      "/dev/v4l/by-id/usb-MACROSILICON_USB_Video_20210623-video-index0",
      "534d:2109",
      "046d:082d:ABCD1234",
    ]) {
      expect(parseConfig(configInput({ feeds: [feed(device)] }), "test").feeds[0]?.source).toMatchObject({
        device,
      });
    }
    expect(rejection(configInput({ feeds: [feed("534D:zz")] })).context.issues).toHaveLength(1);
  });

  it("gives sound only to the room camera, and keeps a degradation floor under its ceiling", () => {
    const audio = { source: { type: "test" } };
    const issues = rejection(
      configInput({
        feeds: [
          { id: "us", role: "ultrasound", source: { type: "test" }, audio, whip: { url: "http://h/w" } },
          {
            id: "cam",
            source: { type: "test" },
            audio,
            degradation: { minBitrateKbps: 900, maxBitrateKbps: 800 },
            whip: { url: "http://h/w" },
          },
        ],
      }),
    ).context.issues;
    expect(issues).toEqual([
      "feeds.0.audio: only the room camera's feed carries sound",
      "feeds.1.degradation.minBitrateKbps: must not be above maxBitrateKbps",
    ]);
  });

  it("refuses two feeds with the same id, naming the second", () => {
    const feed = { id: "cam", source: { type: "test" }, whip: { url: "http://h/w" } };
    expect(rejection(configInput({ feeds: [feed, { ...feed, id: "doc" }, feed] })).context.issues).toEqual([
      'feeds.2.id: "cam" is already used by another feed',
    ]);
  });

  it("requires at least one feed and at most three", () => {
    expect(rejection(configInput({ feeds: [] })).context.issues).toEqual([
      "feeds: Too small: expected array to have >=1 items",
    ]);
  });

  it("accepts the documented example file", async () => {
    const config = await loadConfigFile("docs/examples/config.json");
    expect(config.deviceId).toBe("district-hospital-07");
    expect(config.button.gpio?.line).toBe(17);
  });

  it("reports a file that is not JSON, or missing, as unreadable", async () => {
    await expect(loadConfigFile("package-lock.missing.json")).rejects.toMatchObject({
      code: "SPOKE_CONFIG_UNREADABLE",
    });
    await expect(loadConfigFile("docs/errors.md")).rejects.toMatchObject({
      code: "SPOKE_CONFIG_UNREADABLE",
      message: expect.stringContaining("is not valid JSON"),
    });
  });

  it("keeps docs/config.md generated from the schema", async () => {
    expect(await readFile("docs/config.md", "utf8")).toBe(renderConfigDocs());
  });
});
