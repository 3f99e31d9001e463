import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { ERROR_CODES, SpokeError, toSpokeError } from "../../agent/core/errors.js";

describe("error codes", () => {
  it("documents every code in docs/errors.md, and no code that does not exist", async () => {
    const doc = await readFile("docs/errors.md", "utf8");
    const documented = [...doc.matchAll(/^\| `(SPOKE_[A-Z_]+)`/gm)].map((match) => match[1]);
    expect(documented).toEqual([...ERROR_CODES]);
  });

  it("keeps a SpokeError as it is and wraps anything else with a cause", () => {
    const original = new SpokeError("SPOKE_WHIP_HTTP_ERROR", "401");
    expect(toSpokeError(original)).toBe(original);
    const wrapped = toSpokeError(new TypeError("boom"));
    expect(wrapped.toInfo()).toEqual({ code: "SPOKE_INTERNAL", message: "boom" });
    expect(wrapped.cause).toBeInstanceOf(TypeError);
  });
});
