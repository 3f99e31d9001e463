import type { z } from "zod";
import { SpokeError } from "../core/errors.js";
import { configSchema, type SpokeConfig } from "./schema.js";

/** One line per problem, `path: message`, so a technician sees every bad field at once. */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => {
    const path = issue.path.length > 0 ? issue.path.join(".") : "(top level)";
    return `${path}: ${issue.message}`;
  });
}

/** Validates untrusted input (a parsed file or message) into a typed config with defaults filled in. */
export function parseConfig(input: unknown, origin: string): SpokeConfig {
  const result = configSchema.safeParse(input);
  if (result.success) return result.data;
  const lines = describeIssues(result.error.issues);
  throw new SpokeError(
    "SPOKE_CONFIG_INVALID",
    `${origin} is not a valid configuration:\n  ${lines.join("\n  ")}`,
    {
      context: { issues: lines },
    },
  );
}
