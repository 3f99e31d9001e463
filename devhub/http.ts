import type { IncomingMessage } from "node:http";

/** SDP offers and answers are a few KiB; anything far larger is not one. */
const MAX_BODY_CHARS = 256 * 1024;

/** Reads a whole (small) request body as text; a body over the limit ends the request. */
export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      body += chunk;
      if (body.length > MAX_BODY_CHARS) {
        req.destroy();
        reject(new Error(`request body over ${MAX_BODY_CHARS} characters`));
      }
    });
    req.on("end", () => resolve(body));
    req.on("error", reject);
  });
}
