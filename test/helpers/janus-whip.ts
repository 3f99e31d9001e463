import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { readBody } from "../../devhub/http.js";
import { JANUS_ROOM, type Janus, type JanusMessage } from "./janus.js";

/** One WHIP resource: a Janus session with a VideoRoom publisher handle. */
export interface JanusWhipResource {
  id: string;
  session: number;
  handle: number;
  /** The publisher's id in the room (for rtp_forward). */
  publisherId: number;
  /** Every event Janus sent for the session (webrtcup, media, hangup, …). */
  events: JanusMessage[];
  /** Candidates received by trickle PATCH and handed to Janus. */
  trickled: number;
  deleted: boolean;
}

/**
 * A thin WHIP front (RFC 9725) over Janus's HTTP API, made for the tests: POST an offer → a Janus
 * session joins the VideoRoom as a publisher with it → 201 with Janus's answer and `Location`; PATCH
 * trickles candidates to Janus; DELETE → leave and end the session. It does what simple-whip-server
 * does with janode, in as few lines as the tests need (no ICE restart: a restart PATCH gets 405).
 */
export class JanusWhipFront {
  readonly resources = new Map<string, JanusWhipResource>();
  private server: Server | undefined;
  private port = 0;
  private stopped = false;

  constructor(private readonly janus: Janus) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}/whip/room`;
  }

  async start(): Promise<void> {
    const server = createServer((request, response) => {
      this.handle(request, response).catch((error: unknown) => {
        response.writeHead(500, { "content-type": "text/plain" });
        response.end(String(error));
      });
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    this.port = (server.address() as AddressInfo).port;
  }

  /** Asks Janus to forward the publisher's RTP to loopback ports, as it would to a recorder or mixer. */
  async rtpForward(
    resource: JanusWhipResource,
    ports: { video: number; audio?: number },
  ): Promise<JanusMessage> {
    return this.janus.request(`/${resource.session}/${resource.handle}`, {
      janus: "message",
      body: {
        request: "rtp_forward",
        room: JANUS_ROOM,
        publisher_id: resource.publisherId,
        host: "127.0.0.1",
        video_port: ports.video,
        ...(ports.audio !== undefined && { audio_port: ports.audio }),
      },
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const resource of this.resources.values()) if (!resource.deleted) await this.end(resource);
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = request.url ?? "";
    const resource = this.resources.get(url.split("/").pop() ?? "");
    if (request.method === "POST" && url === "/whip/room") return this.publish(request, response);
    if (request.method === "PATCH" && resource) return this.trickle(request, response, resource);
    if (request.method === "DELETE" && resource) {
      await this.end(resource);
      response.writeHead(200).end();
      return;
    }
    response.writeHead(404).end();
  }

  private async publish(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const offer = await readBody(request);
    const created = await this.janus.request("", { janus: "create" });
    const session = created.data?.id;
    if (session === undefined) throw new Error(`janus create: ${JSON.stringify(created)}`);
    const attached = await this.janus.request(`/${session}`, {
      janus: "attach",
      plugin: "janus.plugin.videoroom",
    });
    const handle = attached.data?.id;
    if (handle === undefined) throw new Error(`janus attach: ${JSON.stringify(attached)}`);
    const resource: JanusWhipResource = {
      id: randomUUID(),
      session,
      handle,
      publisherId: 0,
      events: [],
      trickled: 0,
      deleted: false,
    };
    this.resources.set(resource.id, resource);
    void this.pollEvents(resource);
    const ack = await this.janus.request(`/${session}/${handle}`, {
      janus: "message",
      body: { request: "joinandconfigure", room: JANUS_ROOM, ptype: "publisher", display: "spoke" },
      jsep: { type: "offer", sdp: offer },
    });
    if (ack.janus !== "ack") throw new Error(`janus joinandconfigure: ${JSON.stringify(ack)}`);
    const joined = await this.nextEvent(
      resource,
      (event) => event.jsep !== undefined || isVideoRoomError(event),
    );
    if (!joined.jsep) {
      response.writeHead(400, { "content-type": "text/plain" });
      response.end(JSON.stringify(joined.plugindata?.data ?? joined));
      return;
    }
    resource.publisherId = Number(joined.plugindata?.data.id ?? 0);
    response.writeHead(201, {
      "content-type": "application/sdp",
      location: `/whip/resource/${resource.id}`,
      etag: `"${resource.id}"`,
    });
    response.end(joined.jsep.sdp);
  }

  /** Trickled candidates (an sdpfrag) go to Janus one by one; an ICE restart is not something it takes here. */
  private async trickle(request: IncomingMessage, response: ServerResponse, resource: JanusWhipResource) {
    const fragment = await readBody(request);
    if (request.headers["if-match"] === "*") {
      response.writeHead(405).end();
      return;
    }
    const path = `/${resource.session}/${resource.handle}`;
    for (const line of fragment.split(/\r?\n/)) {
      if (line.startsWith("a=candidate:")) {
        resource.trickled += 1;
        await this.janus.request(path, {
          janus: "trickle",
          candidate: { sdpMid: "0", sdpMLineIndex: 0, candidate: line.slice(2) },
        });
      } else if (line === "a=end-of-candidates") {
        await this.janus.request(path, { janus: "trickle", candidate: { completed: true } });
      }
    }
    response.writeHead(204).end();
  }

  private async end(resource: JanusWhipResource): Promise<void> {
    resource.deleted = true;
    const path = `/${resource.session}/${resource.handle}`;
    await this.janus.request(path, { janus: "message", body: { request: "leave" } }).catch(() => undefined);
    await this.janus.request(`/${resource.session}`, { janus: "destroy" }).catch(() => undefined);
  }

  /** Long-polls the session's events while it lasts: they are kept, and the polls keep it alive. */
  private async pollEvents(resource: JanusWhipResource): Promise<void> {
    while (!resource.deleted && !this.stopped) {
      const events = await this.janus.poll(resource.session).catch(() => []);
      resource.events.push(...events.filter((event) => event.janus !== "keepalive"));
      if (events.length === 0) await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  private async nextEvent(
    resource: JanusWhipResource,
    matches: (event: JanusMessage) => boolean,
    timeoutMs = 10_000,
  ): Promise<JanusMessage> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const event = resource.events.find(matches);
      if (event) return event;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`no answer from Janus within ${timeoutMs} ms: ${JSON.stringify(resource.events)}`);
  }
}

function isVideoRoomError(event: JanusMessage): boolean {
  return event.plugindata?.data.videoroom === "event" && event.plugindata.data.error !== undefined;
}
