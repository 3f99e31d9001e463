import { writeFile } from "node:fs/promises";
import { renderConfigDocs } from "./config-docs.js";

await writeFile(new URL("../docs/config.md", import.meta.url), renderConfigDocs());
console.log("wrote docs/config.md");
