import { fileURLToPath } from "node:url";

/**
 * How to start the worker module in a child process: the compiled `.js` under Node, or the `.ts` source
 * through tsx when the agent itself runs from source (tests, `npm run dev`).
 */
export function workerEntry(): { modulePath: string; execArgv: string[] } {
  const self = fileURLToPath(import.meta.url);
  const fromSource = self.endsWith(".ts");
  const modulePath = self.replace(/worker-entry\.(ts|js)$/, fromSource ? "feed-worker.ts" : "feed-worker.js");
  return { modulePath, execArgv: fromSource ? ["--import", "tsx"] : [] };
}
