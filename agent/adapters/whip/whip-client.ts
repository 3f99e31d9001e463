import { SpokeError, toSpokeError } from "../../core/errors.js";
import { excerpt } from "../../core/excerpt.js";
import { type IceServerConfig, parseIceServerLinks } from "../../core/whip/link-header.js";
import { parseRetryAfter, type WhipFailure } from "../../core/whip/retry.js";

/**
 * The HTTP side of WHIP (RFC 9725): POST the offer, take the 201 answer, the session URL, its ETag and
 * the hub's ICE servers; PATCH trickled candidates and ICE restarts; DELETE the session at the end.
 *
 * Redirects (307/308) are followed here, not by fetch: fetch drops `Authorization` when a redirect
 * changes origin, and WHIP wants the token on every request. The body is re-sent; a redirect from
 * HTTPS to plain HTTP is refused, so the token and SDP never leave TLS.
 */

export interface WhipEndpoint {
  url: string;
  bearerToken?: string;
}

export interface WhipSession {
  answerSdp: string;
  /** Absolute URL of the session resource (from `Location`, resolved against the final URL). */
  resourceUrl: string;
  /** The hub's entity tag for the ICE session, when it sent one; updated by an ICE restart. */
  etag?: string;
  /** From the 201's `Link: rel="ice-server"` headers, in the hub's order. */
  iceServers: IceServerConfig[];
  endpoint: WhipEndpoint;
}

/**
 * What a trickle PATCH came to: done; a hub without PATCH at all (405, 501); or one that does ICE
 * restarts but not trickle (422, RFC 9725 §4.3). Either way the caller stops trickling.
 */
export type PatchOutcome = "sent" | "no-patch" | "no-trickle";

export type RestartOutcome = { kind: "restarted"; answerFrag: string } | { kind: "no-patch" };

export const TRICKLE_CONTENT_TYPE = "application/trickle-ice-sdpfrag";
const REQUEST_TIMEOUT_MS = 10_000;
const MAX_REDIRECTS = 5;

function headers(endpoint: WhipEndpoint, extra: Record<string, string> = {}): Record<string, string> {
  return endpoint.bearerToken ? { ...extra, authorization: `Bearer ${endpoint.bearerToken}` } : extra;
}

/** fetch wraps socket failures ("fetch failed", "terminated"): the inner error says what happened. */
function reasonOf(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  return cause.cause instanceof Error ? cause.cause.message : cause.message;
}

function isTimeout(cause: unknown): boolean {
  return cause instanceof Error && (cause.name === "TimeoutError" || cause.name === "AbortError");
}

interface Landed {
  response: Response;
  /** The URL that answered, after redirects. */
  url: string;
}

async function request(url: string, init: RequestInit): Promise<Landed> {
  let current = url;
  for (let hop = 0; ; hop += 1) {
    let response: Response;
    try {
      response = await fetch(current, {
        ...init,
        redirect: "manual",
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (cause) {
      const timeout = isTimeout(cause);
      throw new SpokeError(
        "SPOKE_WHIP_UNREACHABLE",
        timeout
          ? `WHIP endpoint ${current} did not answer within ${REQUEST_TIMEOUT_MS / 1000} s`
          : `cannot reach WHIP endpoint ${current}: ${reasonOf(cause)}`,
        { cause, context: { url: current, failure: timeout ? "timeout" : "network" } },
      );
    }
    if (response.status !== 307 && response.status !== 308) return { response, url: current };
    await response.body?.cancel().catch(() => undefined);
    const location = response.headers.get("location");
    const next = location ? safeUrl(location, current) : undefined;
    if (!next || hop >= MAX_REDIRECTS || (current.startsWith("https:") && !next.startsWith("https:"))) {
      const why = !next
        ? "without a usable Location"
        : hop >= MAX_REDIRECTS
          ? `more than ${MAX_REDIRECTS} times`
          : "from HTTPS to plain HTTP";
      throw new SpokeError(
        "SPOKE_WHIP_HTTP_ERROR",
        `WHIP endpoint ${current} redirected (${response.status}) ${why}`,
        { context: { status: response.status, url: current } },
      );
    }
    current = next;
  }
}

function safeUrl(location: string, base: string): string | undefined {
  try {
    return new URL(location, base).toString();
  } catch {
    return undefined;
  }
}

/** The body comes after the status: the connection can still drop (or time out) while it arrives. */
async function readAnswer(response: Response, url: string): Promise<string> {
  try {
    return await response.text();
  } catch (cause) {
    throw new SpokeError(
      "SPOKE_WHIP_UNREACHABLE",
      `WHIP endpoint ${url} dropped the connection while sending its answer: ${reasonOf(cause)}`,
      { cause, context: { url, failure: "network" } },
    );
  }
}

/** `Location` may be relative, to where the POST landed after redirects; a hub can also send garbage. */
function resolveLocation(location: string, landedUrl: string, url: string): string {
  try {
    return new URL(location, landedUrl).toString();
  } catch (cause) {
    const shown = JSON.stringify(excerpt(location, 100));
    throw new SpokeError(
      "SPOKE_WHIP_BAD_ANSWER",
      `WHIP endpoint ${url} answered 201 with a Location header that is not a URL: ${shown}`,
      { cause, context: { url } },
    );
  }
}

/** A short, single-line excerpt of an error body: enough to diagnose, never a page of HTML. */
async function bodyExcerpt(response: Response): Promise<string> {
  const text = (await response.text().catch(() => "")).replace(/\s+/g, " ").trim();
  return excerpt(text, 200);
}

/** An error status as a SpokeError carrying the status, the hub's words and its `Retry-After`. */
async function httpError(what: string, response: Response, url: string): Promise<SpokeError> {
  const hubMessage = await bodyExcerpt(response);
  const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"), Date.now());
  const context: Record<string, unknown> = { status: response.status, url, hubMessage };
  if (retryAfterMs !== undefined) context.retryAfterMs = retryAfterMs;
  return new SpokeError(
    "SPOKE_WHIP_HTTP_ERROR",
    `${what} answered ${response.status} ${response.statusText}${hubMessage ? `: ${hubMessage}` : ""}`,
    { context },
  );
}

export async function publishOffer(endpoint: WhipEndpoint, offerSdp: string): Promise<WhipSession> {
  const { response, url: landed } = await request(endpoint.url, {
    method: "POST",
    headers: headers(endpoint, { "content-type": "application/sdp" }),
    body: offerSdp,
  });
  if (response.status !== 201) throw await httpError("WHIP endpoint", response, endpoint.url);
  const location = response.headers.get("location");
  const contentType = response.headers.get("content-type") ?? "";
  const answerSdp = await readAnswer(response, endpoint.url);
  if (!location || !contentType.startsWith("application/sdp") || !answerSdp.startsWith("v=0")) {
    throw new SpokeError(
      "SPOKE_WHIP_BAD_ANSWER",
      "WHIP endpoint answered 201 without an SDP answer and a Location header",
      { context: { contentType, hasLocation: Boolean(location) } },
    );
  }
  const session: WhipSession = {
    answerSdp,
    resourceUrl: resolveLocation(location, landed, endpoint.url),
    iceServers: parseIceServerLinks(response.headers.get("link")),
    endpoint,
  };
  const etag = response.headers.get("etag");
  if (etag) session.etag = etag;
  return session;
}

/**
 * Sends trickled candidates (RFC 9725 §4.3.1). `If-Match` carries the session's ETag when the hub gave
 * one. A hub without PATCH (405, 501) or without trickle (422: it does ICE restarts only) says so in the
 * outcome: the caller stops trickling and relies on the candidates in the offer.
 */
export async function patchCandidates(session: WhipSession, sdpfrag: string): Promise<PatchOutcome> {
  const extra: Record<string, string> = { "content-type": TRICKLE_CONTENT_TYPE };
  if (session.etag) extra["if-match"] = session.etag;
  const { response } = await request(session.resourceUrl, {
    method: "PATCH",
    headers: headers(session.endpoint, extra),
    body: sdpfrag,
  });
  if (response.ok) {
    await response.body?.cancel().catch(() => undefined);
    return "sent";
  }
  if (isNoPatch(response.status)) {
    await response.body?.cancel().catch(() => undefined);
    return response.status === 422 ? "no-trickle" : "no-patch";
  }
  throw await httpError("WHIP PATCH (trickle)", response, session.resourceUrl);
}

/**
 * An ICE restart (RFC 9725 §4.4): PATCH with `If-Match: *` and the new ufrag/pwd; the 200 carries the
 * hub's new ufrag/pwd (and candidates) and a new ETag, kept in `session.etag`. A hub that cannot
 * (405, 501, 422) is "no-patch": the caller makes a new session instead. A failed restart leaves the
 * hub's session as it was (§4.4), so an error here is not the end of the session.
 */
export async function restartIce(session: WhipSession, sdpfrag: string): Promise<RestartOutcome> {
  const { response } = await request(session.resourceUrl, {
    method: "PATCH",
    headers: headers(session.endpoint, { "content-type": TRICKLE_CONTENT_TYPE, "if-match": "*" }),
    body: sdpfrag,
  });
  if (isNoPatch(response.status)) {
    await response.body?.cancel().catch(() => undefined);
    return { kind: "no-patch" };
  }
  if (response.status !== 200)
    throw await httpError("WHIP PATCH (ICE restart)", response, session.resourceUrl);
  const answerFrag = await readAnswer(response, session.resourceUrl);
  const contentType = response.headers.get("content-type") ?? "";
  if (!contentType.startsWith(TRICKLE_CONTENT_TYPE) || !/^a=ice-ufrag:/m.test(answerFrag)) {
    throw new SpokeError(
      "SPOKE_WHIP_BAD_ANSWER",
      "WHIP ICE restart answered 200 without the hub's new ICE credentials",
      { context: { contentType, url: session.resourceUrl } },
    );
  }
  const etag = response.headers.get("etag");
  if (etag) session.etag = etag;
  else delete session.etag;
  return { kind: "restarted", answerFrag };
}

function isNoPatch(status: number): boolean {
  return status === 405 || status === 501 || status === 422;
}

/** Ends the session on the hub. Failures are returned for logging: the local teardown goes on anyway. */
export async function deleteSession(
  endpoint: WhipEndpoint,
  resourceUrl: string,
): Promise<SpokeError | undefined> {
  try {
    const { response } = await request(resourceUrl, { method: "DELETE", headers: headers(endpoint) });
    await discardBody(response, resourceUrl);
    if (response.ok) return undefined;
    return new SpokeError("SPOKE_WHIP_HTTP_ERROR", `WHIP DELETE answered ${response.status}`, {
      context: { status: response.status },
    });
  } catch (error) {
    // The caller logs this with toInfo() and then closes the peer: it must be a SpokeError, whatever failed.
    return toSpokeError(error, "SPOKE_WHIP_UNREACHABLE");
  }
}

/** Cancelling rejects when the connection has already dropped mid-body; say so in the error. */
async function discardBody(response: Response, resourceUrl: string): Promise<void> {
  try {
    await response.body?.cancel();
  } catch (cause) {
    throw new SpokeError(
      "SPOKE_WHIP_UNREACHABLE",
      `WHIP DELETE ${resourceUrl}: the connection dropped: ${reasonOf(cause)}`,
      { cause },
    );
  }
}

/** A WHIP error as the retry plan sees it; undefined for errors a retry cannot help (a bad answer). */
export function whipFailureOf(error: unknown): WhipFailure | undefined {
  if (!(error instanceof SpokeError)) return undefined;
  const { status, hubMessage, retryAfterMs, failure } = error.context as {
    status?: number;
    hubMessage?: string;
    retryAfterMs?: number;
    failure?: "timeout" | "network";
  };
  if (error.code === "SPOKE_WHIP_HTTP_ERROR" && typeof status === "number") {
    const http: WhipFailure = { kind: "http", status };
    if (hubMessage) http.message = hubMessage;
    if (retryAfterMs !== undefined) http.retryAfterMs = retryAfterMs;
    return http;
  }
  if (error.code === "SPOKE_WHIP_UNREACHABLE") return { kind: failure === "timeout" ? "timeout" : "network" };
  return undefined;
}
