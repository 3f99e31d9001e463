import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import mqtt, { type MqttClient } from "mqtt";
import { readBody } from "./http.js";

/**
 * The dev hub: a WHIP endpoint whose receiving peer is a browser page. The server only relays SDP: the
 * agent's offer goes to the open page over Server-Sent Events, the page's answer comes back by POST and
 * is returned to the agent as the 201 body. It also relays the fleet's MQTT messages to the page.
 */

export interface DevHubOptions {
  port: number;
  host?: string;
  bearerToken?: string;
  mqttUrl?: string;
  answerTimeoutMs?: number;
}

interface PendingOffer {
  resolve(answer: string): void;
}

const PUBLIC_FILES: Record<string, { file: string; type: string }> = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/viewer.js": { file: "viewer.js", type: "text/javascript; charset=utf-8" },
};

export class DevHub {
  private server: Server | undefined;
  private mqttClient: MqttClient | undefined;
  private readonly viewers = new Set<ServerResponse>();
  private readonly pending = new Map<string, PendingOffer>();
  /** The latest message of each fleet topic, replayed to a page that connects later. */
  private readonly fleetState = new Map<string, unknown>();

  constructor(private readonly options: DevHubOptions) {}

  get url(): string {
    const address = this.server?.address() as AddressInfo | undefined;
    return `http://127.0.0.1:${address?.port ?? this.options.port}`;
  }

  whipUrl(stream: string): string {
    return `${this.url}/whip/${stream}`;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      this.route(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end(`dev hub error: ${String(error)}`);
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.options.port, this.options.host ?? "127.0.0.1", () => resolve());
    });
    if (this.options.mqttUrl) this.bridgeFleet(this.options.mqttUrl);
  }

  async stop(): Promise<void> {
    for (const viewer of this.viewers) viewer.end();
    await this.mqttClient?.endAsync();
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? "/", "http://hub").pathname;
    const asset = PUBLIC_FILES[path];
    if (req.method === "GET" && asset) return this.serveFile(res, asset);
    if (req.method === "GET" && path === "/events") return this.openEvents(req, res);
    const whip = /^\/whip\/([\w-]+)(?:\/([\w-]+))?$/.exec(path);
    if (whip?.[1]) return this.whip(req, res, whip[1], whip[2]);
    const answer = /^\/answers\/([\w-]+)$/.exec(path);
    if (req.method === "POST" && answer?.[1]) return this.acceptAnswer(req, res, answer[1]);
    res.writeHead(404, { "content-type": "text/plain" }).end("not found");
  }

  private async serveFile(res: ServerResponse, asset: { file: string; type: string }): Promise<void> {
    const body = await readFile(new URL(`./public/${asset.file}`, pageRoot()));
    res.writeHead(200, { "content-type": asset.type, "cache-control": "no-store" }).end(body);
  }

  private openEvents(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-store",
      connection: "keep-alive",
    });
    res.write(": connected\n\n");
    this.viewers.add(res);
    for (const [topic, payload] of this.fleetState) sendEvent(res, "fleet", { topic, payload });
    req.on("close", () => this.viewers.delete(res));
  }

  private async whip(
    req: IncomingMessage,
    res: ServerResponse,
    stream: string,
    sessionId?: string,
  ): Promise<void> {
    if (req.method === "OPTIONS") {
      res.writeHead(204, { "accept-post": "application/sdp", ...CORS }).end();
      return;
    }
    if (this.options.bearerToken && req.headers.authorization !== `Bearer ${this.options.bearerToken}`) {
      res.writeHead(401, { "content-type": "text/plain" }).end("missing or wrong Bearer token");
      return;
    }
    if (req.method === "POST" && !sessionId) return this.relayOffer(req, res, stream);
    if (req.method === "DELETE" && sessionId) {
      this.broadcast("end", { id: sessionId });
      res.writeHead(200).end();
      return;
    }
    res.writeHead(405, { allow: "POST, DELETE, OPTIONS" }).end();
  }

  private async relayOffer(req: IncomingMessage, res: ServerResponse, stream: string): Promise<void> {
    if (!req.headers["content-type"]?.startsWith("application/sdp")) {
      res.writeHead(415, { "content-type": "text/plain" }).end("WHIP offers must be application/sdp");
      return;
    }
    const offer = await readBody(req);
    if (this.viewers.size === 0) {
      res
        .writeHead(503, { "content-type": "text/plain" })
        .end(`no viewer page is open: open ${this.url}/ first`);
      return;
    }
    const id = randomUUID();
    let timer: NodeJS.Timeout | undefined;
    const answer = new Promise<string | undefined>((resolve) => {
      this.pending.set(id, { resolve });
      // Shorter than the agent's WHIP request timeout, so the agent hears this 504 rather than giving up.
      timer = setTimeout(() => resolve(undefined), this.options.answerTimeoutMs ?? 8_000);
    });
    this.broadcast("offer", { id, stream, sdp: offer });
    const sdp = await answer;
    clearTimeout(timer);
    this.pending.delete(id);
    if (!sdp) {
      // A page that answers late must not keep a peer that will never connect.
      this.broadcast("end", { id });
      res.writeHead(504, { "content-type": "text/plain" }).end("the viewer page did not answer in time");
      return;
    }
    res
      .writeHead(201, { "content-type": "application/sdp", location: `/whip/${stream}/${id}`, ...CORS })
      .end(sdp);
  }

  private async acceptAnswer(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const sdp = await readBody(req);
    const pending = this.pending.get(id);
    if (!pending) {
      res.writeHead(404, { "content-type": "text/plain" }).end("no such offer (it may have timed out)");
      return;
    }
    pending.resolve(sdp);
    res.writeHead(204).end();
  }

  private bridgeFleet(url: string): void {
    const client = mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 1000 });
    this.mqttClient = client;
    client.on("connect", () => {
      client.subscribe("spoke/v1/+/#", { qos: 1 });
    });
    client.on("message", (topic, payload) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(payload.toString("utf8"));
      } catch {
        parsed = payload.toString("utf8");
      }
      this.fleetState.set(topic, parsed);
      this.broadcast("fleet", { topic, payload: parsed });
    });
  }

  private broadcast(event: string, data: unknown): void {
    for (const viewer of this.viewers) sendEvent(viewer, event, data);
  }
}

const CORS = { "access-control-allow-origin": "*", "access-control-expose-headers": "location" };

/** Pages live beside the sources; the compiled dev hub in dist/ reads them from the source tree. */
function pageRoot(): URL {
  return new URL(import.meta.url.includes("/dist/") ? "../../devhub/" : "./", import.meta.url);
}

function sendEvent(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}
