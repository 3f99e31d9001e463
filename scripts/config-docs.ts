import { z } from "zod";
import { configSchema } from "../agent/config/schema.js";

interface JsonSchemaNode {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  format?: string;
  properties?: Record<string, JsonSchemaNode>;
  required?: string[];
  items?: JsonSchemaNode;
  anyOf?: JsonSchemaNode[];
  oneOf?: JsonSchemaNode[];
}

function typeOf(node: JsonSchemaNode): string {
  if (node.const !== undefined) return `\`${JSON.stringify(node.const)}\``;
  if (node.enum) return node.enum.map((value) => `\`${JSON.stringify(value)}\``).join(" \\| ");
  const variants = node.anyOf ?? node.oneOf;
  if (variants) return variants.map(typeOf).join(" \\| ");
  if (node.type === "array") return "array";
  return Array.isArray(node.type) ? node.type.join(" \\| ") : (node.type ?? "object");
}

function limits(node: JsonSchemaNode): string {
  const parts: string[] = [];
  if (node.minimum !== undefined || node.maximum !== undefined)
    parts.push(`${node.minimum ?? ""}…${node.maximum ?? ""}`);
  if (node.minItems !== undefined || node.maxItems !== undefined)
    parts.push(`${node.minItems}…${node.maxItems} items`);
  if (node.format) parts.push(node.format);
  return parts.join(", ");
}

function cell(text: string): string {
  return text.replaceAll("|", "\\|");
}

function rows(node: JsonSchemaNode, path: string, required: boolean, out: string[], note = ""): void {
  if (path) {
    const fallback =
      node.default === undefined
        ? required
          ? "required"
          : "optional"
        : `\`${JSON.stringify(node.default)}\``;
    const detail = [note, node.description ?? "", limits(node)].filter(Boolean).join(" ");
    out.push(`| \`${path}\` | ${typeOf(node)} | ${fallback} | ${cell(detail)} |`);
  }
  // A discriminated union: list each variant's fields under the same path, saying which variant has them.
  for (const variant of node.oneOf ?? node.anyOf ?? []) {
    const discriminator = Object.values(variant.properties ?? {}).find((child) => child.const !== undefined);
    const variantNote = discriminator ? `(type ${JSON.stringify(discriminator.const)})` : "";
    for (const [key, child] of Object.entries(variant.properties ?? {})) {
      rows(child, `${path}.${key}`, variant.required?.includes(key) ?? false, out, variantNote);
    }
  }
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    rows(child, path ? `${path}.${key}` : key, node.required?.includes(key) ?? false, out);
  }
  if (node.items) rows(node.items, `${path}[]`, true, out);
}

/** The configuration reference, generated from the schema: `npm run docs:config` writes docs/config.md. */
export function renderConfigDocs(): string {
  const schema = z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any" }) as JsonSchemaNode;
  const out: string[] = [];
  rows(schema, "", true, out);
  return [
    "# Configuration reference",
    "",
    "<!-- Generated from agent/config/schema.ts by `npm run docs:config`; a unit test fails when it is stale. -->",
    "",
    "The agent reads one JSON file (`spoke run --config <file>`); `spoke check-config <file>` validates it and",
    "prints it with every default filled in. A bad field is reported by its path, e.g.",
    "`feeds.0.whip.url: must be an http:// or https:// URL`. A complete example: `docs/examples/config.json`.",
    "",
    "| field | type | default | meaning |",
    "| --- | --- | --- | --- |",
    ...out,
    "",
  ].join("\n");
}
