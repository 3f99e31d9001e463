/**
 * ICE servers a WHIP hub offers in `Link` headers of its 201 (RFC 9725 §4.6):
 *
 *   Link: <turn:turn.example.net?transport=tcp>; rel="ice-server"; username="u"; credential="p";
 *         credential-type="password"
 *
 * Several links may come in one header (comma separated) or in several. Links with other relations
 * (extensions, anything unknown) are ignored, as are servers we cannot use. A hub is not trusted to send
 * well-formed input: the parser never throws and bounds what it reads.
 */

/** One server as a WebRTC stack takes it (`RTCIceServer` with a single URL). */
export interface IceServerConfig {
  urls: string;
  username?: string;
  credential?: string;
}

/** More than any hub sends; bounds the work a hostile header can cause. */
const MAX_HEADER_CHARS = 16_384;
const MAX_SERVERS = 16;
const MAX_VALUE_CHARS = 512;

interface Link {
  target: string;
  params: Map<string, string>;
}

/** Splits `<uri>; a=b; c="d, e", <uri2>` into links, honouring quoted strings and the angle brackets. */
function parseLinks(header: string): Link[] {
  const links: Link[] = [];
  let i = 0;
  const n = header.length;
  const skipSpace = () => {
    while (i < n && (header[i] === " " || header[i] === "\t")) i += 1;
  };
  while (i < n && links.length < MAX_SERVERS * 4) {
    skipSpace();
    if (header[i] === ",") {
      i += 1;
      continue;
    }
    if (header[i] !== "<") {
      // Not a link: skip to the next top-level comma.
      i = nextComma(header, i);
      continue;
    }
    const close = header.indexOf(">", i + 1);
    if (close === -1) break;
    const target = header.slice(i + 1, close).trim();
    i = close + 1;
    const params = new Map<string, string>();
    for (;;) {
      skipSpace();
      if (header[i] !== ";") break;
      i += 1;
      skipSpace();
      const nameStart = i;
      while (i < n && /[A-Za-z0-9!#$&+\-.^_`|~*]/.test(header[i] ?? "")) i += 1;
      const name = header.slice(nameStart, i).toLowerCase();
      skipSpace();
      let value = "";
      if (header[i] === "=") {
        i += 1;
        skipSpace();
        if (header[i] === '"') {
          i += 1;
          while (i < n && header[i] !== '"') {
            if (header[i] === "\\" && i + 1 < n) i += 1;
            value += header[i];
            i += 1;
          }
          i += 1;
        } else {
          const start = i;
          while (i < n && !/[;,\s]/.test(header[i] ?? "")) i += 1;
          value = header.slice(start, i);
        }
      }
      // The first occurrence of a parameter counts (RFC 8288 §3).
      if (name && !params.has(name)) params.set(name, value);
      if (name === "") {
        i = nextComma(header, i);
        break;
      }
    }
    links.push({ target, params });
    skipSpace();
    if (i < n && header[i] !== ",") i = nextComma(header, i);
  }
  return links;
}

/** The index of the next comma outside a quoted string or angle brackets (or the end). */
function nextComma(text: string, from: number): number {
  let quoted = false;
  let bracketed = false;
  for (let i = from; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === "\\") i += 1;
      else if (c === '"') quoted = false;
    } else if (bracketed) {
      if (c === ">") bracketed = false;
    } else if (c === '"') quoted = true;
    else if (c === "<") bracketed = true;
    else if (c === ",") return i;
  }
  return text.length;
}

const SCHEMES = ["stun", "turn", "turns"] as const;
type Scheme = (typeof SCHEMES)[number];

/** RFC 7064 / 7065 default ports. */
const DEFAULT_PORTS: Record<Scheme, number> = { stun: 3478, turn: 3478, turns: 5349 };

/**
 * A STUN/TURN URI in the normal form the stack parses: explicit port, and for TURN the transport
 * (`udp` or `tcp`; `turns:` is TLS over TCP, so only `tcp`). Undefined for anything else.
 */
export function normaliseIceUrl(uri: string): string | undefined {
  const match = /^(stun|turns?):([^?#\s]+)(?:\?([^#\s]*))?$/i.exec(uri.trim());
  if (!match) return undefined;
  const scheme = (match[1] ?? "").toLowerCase() as Scheme;
  const authority = match[2] ?? "";
  const query = match[3];
  const hostPort = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(authority);
  if (!hostPort) return undefined;
  const host = hostPort[1] ?? "";
  const port = hostPort[2] === undefined ? DEFAULT_PORTS[scheme] : Number(hostPort[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) return undefined;
  if (scheme === "stun") return query ? undefined : `stun:${host}:${port}`;
  let transport: string | undefined;
  if (query) {
    const transportParam = /^transport=(udp|tcp)$/i.exec(query);
    if (!transportParam) return undefined;
    transport = (transportParam[1] ?? "").toLowerCase();
  }
  if (scheme === "turns") {
    // TURN over DTLS is not something the stack speaks.
    if (transport === "udp") return undefined;
    return `turns:${host}:${port}?transport=tcp`;
  }
  return `turn:${host}:${port}?transport=${transport ?? "udp"}`;
}

const PRINTABLE = /^[\x20-\x7e]*$/;

/**
 * The ICE servers in a WHIP response's `Link` header(s); `header` is the value as fetch joins it, or
 * the separate values. Unknown relations, unknown schemes, TURN without a password credential and
 * oversized or non-printable values are skipped.
 */
export function parseIceServerLinks(
  header: string | readonly string[] | null | undefined,
): IceServerConfig[] {
  if (!header) return [];
  const text = (typeof header === "string" ? header : header.join(", ")).slice(0, MAX_HEADER_CHARS);
  const servers: IceServerConfig[] = [];
  for (const link of parseLinks(text)) {
    if (servers.length >= MAX_SERVERS) break;
    const rels = (link.params.get("rel") ?? "").toLowerCase().split(/\s+/);
    if (!rels.includes("ice-server")) continue;
    const urls = normaliseIceUrl(link.target);
    if (!urls) continue;
    const username = link.params.get("username");
    const credential = link.params.get("credential");
    const credentialType = (link.params.get("credential-type") ?? "password").toLowerCase();
    const values = [username ?? "", credential ?? ""];
    if (values.some((value) => value.length > MAX_VALUE_CHARS || !PRINTABLE.test(value))) continue;
    if (urls.startsWith("stun:")) {
      servers.push({ urls });
      continue;
    }
    if (credentialType !== "password" || username === undefined || credential === undefined) continue;
    servers.push({ urls, username, credential });
  }
  return servers;
}
