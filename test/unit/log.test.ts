import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../agent/log.js";
import { configInput } from "../helpers/config.js";

describe("logging", () => {
  it("writes structured JSON and redacts tokens and passwords wherever a config is logged", () => {
    const written: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        written.push(chunk.toString());
        done();
      },
    });
    const log = createLogger("info", sink);
    const config = configInput({
      feeds: [
        {
          id: "cam",
          source: { type: "test" },
          whip: { url: "http://hub/whip", bearerToken: "hub-secret-1" },
        },
      ],
      mqtt: { url: "mqtt://b", password: "broker-secret-2" },
    });
    log.info({ config }, "configuration loaded");
    log.info(
      {
        whip: { bearerToken: "hub-secret-3" },
        request: { headers: { authorization: "Bearer hub-secret-4" } },
      },
      "x",
    );
    const text = written.join("");
    expect(text).not.toMatch(/secret/);
    const first = JSON.parse(written[0] ?? "{}");
    expect(first).toMatchObject({ level: 30, app: "spoke", msg: "configuration loaded" });
    expect(first.config.feeds[0].whip).toEqual({ url: "http://hub/whip", bearerToken: "[redacted]" });
  });
});
