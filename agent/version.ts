import { readFileSync } from "node:fs";

/** The agent's version from package.json, read once on demand (not at import). */
export function agentVersion(): string {
  const packageJson = new URL("../../package.json", import.meta.url);
  const fallback = new URL("../package.json", import.meta.url);
  for (const url of [fallback, packageJson]) {
    try {
      return (JSON.parse(readFileSync(url, "utf8")) as { version: string }).version;
    } catch {
      // Try the next location: the path differs between the sources and the compiled dist/.
    }
  }
  return "unknown";
}
