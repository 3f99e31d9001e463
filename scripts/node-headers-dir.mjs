// Prints the folder holding the C++ headers of the Node.js that runs this script (for node-gyp's
// --nodedir), or nothing when there are none to be found: then node-gyp downloads them.
// Headers of another Node.js version would build a native binding this one refuses to load.
import { readFileSync, realpathSync } from "node:fs";
import { join, resolve } from "node:path";

const prefix = resolve(realpathSync(process.execPath), "../..");
const candidates = [
  prefix, // distribution packages (/usr), official tarballs, nvm
  join(prefix, "node_modules", `node-${process.platform}-${process.arch}`), // `npm install -g node@20`
];

function headersVersion(dir) {
  try {
    const header = readFileSync(join(dir, "include/node/node_version.h"), "utf8");
    const part = (name) => header.match(new RegExp(`#define ${name} (\\d+)`))?.[1];
    return `${part("NODE_MAJOR_VERSION")}.${part("NODE_MINOR_VERSION")}.${part("NODE_PATCH_VERSION")}`;
  } catch {
    return undefined;
  }
}

const found = candidates.find((dir) => headersVersion(dir) === process.versions.node);
if (found) console.log(found);
