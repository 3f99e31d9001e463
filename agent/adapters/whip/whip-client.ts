import { SpokeError } from "../../core/errors.js";

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

async function request(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, { ...init, redirect: "follow", signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  } catch (cause) {
    const reason =
      cause instanceof Error && cause.cause instanceof Error ? cause.cause.message : String(cause);
    throw new SpokeError("SPOKE_WHIP_UNREACHABLE", `cannot reach WHIP endpoint ${url}: ${reason}`, { cause });
  }
}

/** A short, single-line excerpt of an error body: enough to diagnose, never a page of HTML. */
async function bodyExcerpt(response: Response): Promise<string> {
  const text = (await response.text().catch(() => "")).replace(/\s+/g, " ").trim();
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
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
  const answerSdp = await response.text();
  if (!location || !contentType.startsWith("application/sdp") || !answerSdp.startsWith("v=0")) {
    throw new SpokeError(
      "SPOKE_WHIP_BAD_ANSWER",
      "WHIP endpoint answered 201 without an SDP answer and a Location header",
      { context: { contentType, hasLocation: Boolean(location) } },
    );
  }
  return { answerSdp, resourceUrl: new URL(location, response.url || endpoint.url).toString() };
}

/** Ends the session on the hub. Failures are returned for logging: the local teardown goes on anyway. */
export async function deleteSession(
  endpoint: WhipEndpoint,
  resourceUrl: string,
): Promise<SpokeError | undefined> {
  try {
    const response = await request(resourceUrl, { method: "DELETE", headers: headers(endpoint) });
    await response.body?.cancel();
    if (response.ok) return undefined;
    return new SpokeError("SPOKE_WHIP_HTTP_ERROR", `WHIP DELETE answered ${response.status}`, {
      context: { status: response.status },
    });
  } catch (error) {
    return error as SpokeError;
  }
}
