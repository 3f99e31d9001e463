import { readFile } from "node:fs/promises";
import type { SpokeConfig } from "../../config/schema.js";
import { parseConfig } from "../../config/validate.js";
import { SpokeError } from "../../core/errors.js";

/** Reads and validates a JSON configuration file. */
export async function loadConfigFile(path: string): Promise<SpokeConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    throw new SpokeError("SPOKE_CONFIG_UNREADABLE", `cannot read configuration file ${path}`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new SpokeError("SPOKE_CONFIG_UNREADABLE", `${path} is not valid JSON: ${detail}`, { cause });
  }
  return parseConfig(json, path);
}
