import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith(".ts")).map((e) => join(e.parentPath, e.name));
}

/** Every module a file pulls in: static imports, re-exports, dynamic `import()` and `require`. */
function imports(text: string): string[] {
  const patterns = [
    /^\s*(?:import|export)\b[^"'`;]*?\bfrom\s*["']([^"']+)["']/gms,
    /^\s*import\s*["']([^"']+)["']/gm,
    /\bimport\s*\(\s*["']([^"']+)["']/g,
    /\brequire\s*\(\s*["']([^"']+)["']/g,
    /\bcreateRequire\([^)]*\)\s*\(\s*["']([^"']+)["']/g,
  ];
  return patterns.flatMap((pattern) => [...text.matchAll(pattern)].map((match) => match[1] ?? ""));
}

async function offendingImports(dirs: string[], allowed: (specifier: string) => boolean) {
  const found: { file: string; offending: string[] }[] = [];
  for (const dir of dirs) {
    for (const file of await sources(dir)) {
      const offending = imports(await readFile(file, "utf8")).filter((specifier) => !allowed(specifier));
      if (offending.length > 0) found.push({ file, offending });
    }
  }
  return found;
}

const isRelative = (specifier: string) => specifier.startsWith("./") || specifier.startsWith("../");
const isAdapter = (specifier: string) => specifier.includes("/adapters/");

describe("architecture", () => {
  it("finds every kind of import, so the rules below cannot be dodged", () => {
    const text = [
      'import { a } from "./a.js";',
      'import type {\n  B,\n} from "node:fs";',
      'export { c } from "../c.js";',
      'export * from "pino";',
      'const d = await import("node:net");',
      'import "side-effect";',
      'const e = require("node:child_process");',
      'const f = createRequire(import.meta.url)("onoff");',
    ].join("\n");
    expect(imports(text).sort()).toEqual([
      "../c.js",
      "./a.js",
      "node:child_process",
      "node:fs",
      "node:net",
      "onoff",
      "pino",
      "side-effect",
    ]);
  });

  it("keeps the core and pipelines pure: no Node I/O, no outside libraries, no adapters", async () => {
    const allowed = (specifier: string) => isRelative(specifier) && !isAdapter(specifier);
    expect(await offendingImports(["agent/core", "pipelines"], allowed)).toEqual([]);
  });

  it("keeps config pure: its schema library and the core, no Node I/O, no adapters", async () => {
    const allowed = (specifier: string) =>
      specifier === "zod" || (isRelative(specifier) && !isAdapter(specifier));
    expect(await offendingImports(["agent/config"], allowed)).toEqual([]);
  });

  it("lets only the composition root and the CLI build concrete adapters", async () => {
    expect(await offendingImports(["agent/app"], (specifier) => !isAdapter(specifier))).toEqual([]);
  });
});
