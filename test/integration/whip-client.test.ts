import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  deleteSession,
  patchCandidates,
  publishOffer,
  restartIce,
  whipFailureOf,
} from "../../agent/adapters/whip/whip-client.js";
import { SpokeError } from "../../agent/core/errors.js";
import { readBody } from "../../devhub/http.js";
import { breakAnswerBodies } from "../helpers/broken-fetch.js";

const servers: ReturnType<typeof createServer>[] = [];

afterEach(async () => {
  vi.restoreAllMocks();
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

/** A scripted HTTP endpoint: each test says how it answers. */
async function endpoint(
  handler: (req: IncomingMessage, body: string, res: ServerResponse) => void,
): Promise<string> {
  const server = createServer((req, res) => {
    readBody(req).then(
      (body) => handler(req, body, res),
      () => res.destroy(),
    );
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The error a promise rejects with, or a failure if it resolves. */
function rejection(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => new Error("resolved"),
    (e: Error) => e,
  );
}

const OFFER = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n";
const ANSWER = "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\n";

describe("WHIP client", () => {
  it("posts the offer as application/sdp with the token and resolves a relative Location", async () => {
    const seen: Record<string, string | undefined> = {};
    const base = await endpoint((req, body, res) => {
      Object.assign(seen, { type: req.headers["content-type"], auth: req.headers.authorization, body });
      res.writeHead(201, { "content-type": "application/sdp", location: "sessions/42" }).end(ANSWER);
    });
    const session = await publishOffer({ url: `${base}/whip/room`, bearerToken: "t0k" }, OFFER);
    expect(seen).toEqual({ type: "application/sdp", auth: "Bearer t0k", body: OFFER });
    expect(session).toMatchObject({
      answerSdp: ANSWER,
      resourceUrl: `${base}/whip/sessions/42`,
      iceServers: [],
    });
  });

  it("follows a 307 redirect with the offer and takes the Location relative to where it landed", async () => {
    const base = await endpoint((req, body, res) => {
      if (req.url === "/whip") res.writeHead(307, { location: "/edge-2/whip" }).end();
      else if (body === OFFER)
        res.writeHead(201, { "content-type": "application/sdp", location: "s/1" }).end(ANSWER);
      else res.writeHead(400).end();
    });
    const session = await publishOffer({ url: `${base}/whip` }, OFFER);
    expect(session.resourceUrl).toBe(`${base}/edge-2/s/1`);
  });

  it("rejects a 201 without an SDP answer or Location as not WHIP", async () => {
    const base = await endpoint((_req, _body, res) =>
      res.writeHead(201, { "content-type": "text/html" }).end("<html>"),
    );
    await expect(publishOffer({ url: base }, OFFER)).rejects.toMatchObject({ code: "SPOKE_WHIP_BAD_ANSWER" });
  });

  it("keeps an error page's excerpt short and on one line", async () => {
    const page = `<html>\n<body>${"x".repeat(500)}</body>\n</html>`;
    const base = await endpoint((_req, _body, res) =>
      res.writeHead(502, { "content-type": "text/html" }).end(page),
    );
    const error = await publishOffer({ url: base }, OFFER).then(
      () => new Error("accepted"),
      (e: Error) => e,
    );
    expect(error).toMatchObject({ code: "SPOKE_WHIP_HTTP_ERROR" });
    expect(error.message).toMatch(/^WHIP endpoint answered 502 Bad Gateway: <html> <body>x+…$/);
    expect(error.message.length).toBeLessThan(260);
  });

  it("sends DELETE with the token and returns a hub's refusal for the log instead of throwing", async () => {
    const methods: string[] = [];
    const base = await endpoint((req, _body, res) => {
      methods.push(`${req.method} ${req.headers.authorization}`);
      res.writeHead(req.url === "/gone" ? 404 : 200).end();
    });
    expect(await deleteSession({ url: base, bearerToken: "t" }, `${base}/s/1`)).toBeUndefined();
    expect(await deleteSession({ url: base }, `${base}/gone`)).toMatchObject({
      code: "SPOKE_WHIP_HTTP_ERROR",
    });
    expect(methods).toEqual(["DELETE Bearer t", "DELETE undefined"]);
  });

  it("rejects a 201 whose Location is not a URL as a bad answer that names the endpoint", async () => {
    const base = await endpoint((_req, _body, res) =>
      res.writeHead(201, { "content-type": "application/sdp", location: "http://[bad" }).end(ANSWER),
    );
    const error = await rejection(publishOffer({ url: `${base}/whip`, bearerToken: "s3cret" }, OFFER));
    expect(error).toMatchObject({ code: "SPOKE_WHIP_BAD_ANSWER" });
    expect(error.message).toBe(
      `WHIP endpoint ${base}/whip answered 201 with a Location header that is not a URL: "http://[bad"`,
    );
    expect(error.message).not.toContain("s3cret");
  });

  it("reports an answer cut off by a dropped connection as unreachable, naming the endpoint", async () => {
    const base = await endpoint((_req, _body, res) => {
      res.writeHead(201, {
        "content-type": "application/sdp",
        "content-length": String(ANSWER.length + 100),
        location: "s/1",
      });
      // The headers and part of the answer arrive, then the connection goes.
      res.write(ANSWER, () => res.destroy());
    });
    const error = await rejection(publishOffer({ url: `${base}/whip`, bearerToken: "s3cret" }, OFFER));
    expect(error).toMatchObject({ code: "SPOKE_WHIP_UNREACHABLE" });
    expect(error.message).toBe(
      `WHIP endpoint ${base}/whip dropped the connection while sending its answer: other side closed`,
    );
    expect(error.message).not.toContain("s3cret");
  });

  it("returns a DELETE whose answer breaks off as an unreachable hub, never a raw error", async () => {
    const base = await endpoint((_req, _body, res) => res.writeHead(200).end("bye"));
    breakAnswerBodies();
    const failure = await deleteSession({ url: base, bearerToken: "s3cret" }, `${base}/s/1`);
    expect(failure).toBeInstanceOf(SpokeError);
    expect(failure?.toInfo()).toEqual({
      code: "SPOKE_WHIP_UNREACHABLE",
      message: `WHIP DELETE ${base}/s/1: the connection dropped: terminated`,
    });
  });
  it("keeps the token across a redirect to another origin and takes ETag and Link ICE servers", async () => {
    const seen: string[] = [];
    const edge = await endpoint((req, body, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization} ${body === OFFER}`);
      res
        .writeHead(201, {
          "content-type": "application/sdp",
          location: "sessions/7",
          etag: '"e1"',
          link: '<stun:stun.example.net>; rel="ice-server", <turn:t.example.net:443?transport=tcp>; rel="ice-server"; username="u"; credential="c"',
        })
        .end(ANSWER);
    });
    const front = await endpoint((_req, _body, res) =>
      res.writeHead(308, { location: `${edge}/edge/whip` }).end(),
    );
    const session = await publishOffer({ url: `${front}/whip`, bearerToken: "t0k" }, OFFER);
    expect(seen).toEqual(["POST /edge/whip Bearer t0k true"]);
    expect(session).toMatchObject({
      resourceUrl: `${edge}/edge/sessions/7`,
      etag: '"e1"',
      iceServers: [
        { urls: "stun:stun.example.net:3478" },
        { urls: "turn:t.example.net:443?transport=tcp", username: "u", credential: "c" },
      ],
    });
  });

  it("sends trickle PATCHes with If-Match and restarts with If-Match: *, taking the new ETag", async () => {
    const seen: string[] = [];
    const base = await endpoint((req, body, res) => {
      seen.push(
        `${req.method} ${req.headers["if-match"]} ${req.headers["content-type"]} ${req.headers.authorization}`,
      );
      if (req.headers["if-match"] === "*") {
        res
          .writeHead(200, { "content-type": "application/trickle-ice-sdpfrag", etag: '"e2"' })
          .end("a=ice-ufrag:hub2\r\na=ice-pwd:pwpwpwpwpwpwpwpwpwpwpw\r\n");
      } else res.writeHead(body.includes("a=candidate") ? 204 : 400).end();
    });
    const session = {
      answerSdp: ANSWER,
      resourceUrl: `${base}/s/1`,
      etag: '"e1"',
      iceServers: [],
      endpoint: { url: base, bearerToken: "t" },
    };
    expect(await patchCandidates(session, "a=candidate:1 1 udp 1 10.0.0.1 1 typ host\r\n")).toBe("sent");
    expect(await restartIce(session, "a=ice-ufrag:new1\r\na=ice-pwd:x\r\n")).toMatchObject({
      kind: "restarted",
    });
    expect(session.etag).toBe('"e2"');
    expect(seen).toEqual([
      'PATCH "e1" application/trickle-ice-sdpfrag Bearer t',
      "PATCH * application/trickle-ice-sdpfrag Bearer t",
    ]);
  });

  it.each([405, 501, 422])("reports a hub answering PATCH with %i as having no PATCH", async (status) => {
    const base = await endpoint((_req, _body, res) => res.writeHead(status).end());
    const session = {
      answerSdp: ANSWER,
      resourceUrl: `${base}/s/1`,
      iceServers: [],
      endpoint: { url: base },
    };
    expect(await patchCandidates(session, "a=candidate:x\r\n")).toBe(
      status === 422 ? "no-trickle" : "no-patch",
    );
    expect(await restartIce(session, "a=ice-ufrag:x\r\n")).toEqual({ kind: "no-patch" });
  });

  it("carries status, the hub's message and Retry-After in a POST error, for the retry plan", async () => {
    const base = await endpoint((_req, _body, res) =>
      res.writeHead(503, { "retry-after": "2", "content-type": "text/plain" }).end("draining, try later"),
    );
    const error = await rejection(publishOffer({ url: base }, OFFER));
    expect(error).toMatchObject({ code: "SPOKE_WHIP_HTTP_ERROR" });
    expect(whipFailureOf(error)).toEqual({
      kind: "http",
      status: 503,
      message: "draining, try later",
      retryAfterMs: 2000,
    });
    const refused = await rejection(publishOffer({ url: "http://127.0.0.1:1/whip" }, OFFER));
    expect(whipFailureOf(refused)).toEqual({ kind: "network" });
  });
});
