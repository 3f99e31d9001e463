import { SpokeError, toSpokeError } from "../../core/errors.js";
import { excerpt } from "../../core/excerpt.js";

/**
 * The HTTP side of WHIP (RFC 9725): POST the offer, take the 201 answer and the session URL, DELETE it at
 * the end. Redirects (307/308) are followed by fetch, which re-sends the SDP body.
 */

export interface WhipEndpoint {
  url: string;
  bearerToken?: string;
}

export interface WhipSession {
  answerSdp: string;
  /** Absolute URL of the session resource (from `Location`), used for DELETE. */
  resourceUrl: string;
}

const REQUEST_TIMEOUT_MS = 10_000;

function headers(endpoint: WhipEndpoint, extra: Record<string, string> = {}): Record<string, string> {
  return endpoint.bearerToken ? { ...extra, authorization: `Bearer ${endpoint.bearerToken}` } : extra;
}

/** fetch wraps socket failures ("fetch failed", "terminated"): the inner error says what happened. */
function reasonOf(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  return cause.cause instanceof Error ? cause.cause.message : cause.message;
}

async function request(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, { ...init, redirect: "follow", signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  } catch (cause) {
    throw new SpokeError("SPOKE_WHIP_UNREACHABLE", `cannot reach WHIP endpoint ${url}: ${reasonOf(cause)}`, {
      cause,
    });
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
      { cause },
    );
  }
}

/** `Location` may be relative, to where the POST landed after redirects; a hub can also send garbage. */
function resolveLocation(location: string, response: Response, url: string): string {
  try {
    return new URL(location, response.url || url).toString();
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

export async function publishOffer(endpoint: WhipEndpoint, offerSdp: string): Promise<WhipSession> {
  const response = await request(endpoint.url, {
    method: "POST",
    headers: headers(endpoint, { "content-type": "application/sdp" }),
    body: offerSdp,
  });
  if (response.status !== 201) {
    const excerpt = await bodyExcerpt(response);
    throw new SpokeError(
      "SPOKE_WHIP_HTTP_ERROR",
      `WHIP endpoint answered ${response.status} ${response.statusText}${excerpt ? `: ${excerpt}` : ""}`,
      { context: { status: response.status, url: endpoint.url } },
    );
  }
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
  return { answerSdp, resourceUrl: resolveLocation(location, response, endpoint.url) };
}

/** Ends the session on the hub. Failures are returned for logging: the local teardown goes on anyway. */
export async function deleteSession(
  endpoint: WhipEndpoint,
  resourceUrl: string,
): Promise<SpokeError | undefined> {
  try {
    const response = await request(resourceUrl, { method: "DELETE", headers: headers(endpoint) });
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
