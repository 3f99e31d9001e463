import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith(".ts")).map((e) => join(e.parentPath, e.name));
}

function imports(text: string): string[] {
  return [...text.matchAll(/^import[^"']*["']([^"']+)["']/gm)].map((match) => match[1] ?? "");
}

describe("architecture", () => {
  it("keeps the core pure: no Node I/O, no outside libraries, no adapters", async () => {
    for (const file of [...(await sources("agent/core")), ...(await sources("pipelines"))]) {
      const offending = imports(await readFile(file, "utf8")).filter(
        (specifier) =>
          !specifier.startsWith("./") &&
          !specifier.startsWith("../config/") &&
          !specifier.includes("/agent/config/"),
      );
      expect({ file, offending }).toEqual({ file, offending: [] });
    }
  });

  it("lets only the composition root and the CLI build concrete adapters", async () => {
    const appFiles = await sources("agent/app");
    for (const file of appFiles) {
      const concrete = imports(await readFile(file, "utf8")).filter((specifier) =>
        specifier.includes("/adapters/"),
      );
      expect({ file, concrete }).toEqual({ file, concrete: [] });
    }
  });
});
