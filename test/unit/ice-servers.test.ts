import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { candidateAllowed, relayPairsOnly } from "../../agent/adapters/webrtc/host-only-ice.js";
import { configWithSecretsHidden } from "../../agent/config/secrets.js";
import { parseConfig } from "../../agent/config/validate.js";
import { isSpokeError } from "../../agent/core/errors.js";
import {
  hubTurnGraceMs,
  normalisedServers,
  restartServers,
  shouldRestartForHubTurn,
  turnServersNotOffered,
} from "../../agent/core/whip/ice-servers.js";
import { createLogger } from "../../agent/log.js";
import { configInput } from "../helpers/config.js";

const TURN_TLS = { urls: "turns:turn.example:443?transport=tcp", username: "site", credential: "s3cret" };
const HUB_TURN = { urls: "turn:hub.example:3478?transport=udp", username: "hub", credential: "h" };
const HUB_STUN = { urls: "stun:hub.example:3478" };

describe("the hub's TURN servers and an early ICE restart", () => {
  it("names the hub's TURN servers the offer lacked, by URL and user name; STUN does not count", () => {
    expect(turnServersNotOffered([], [HUB_STUN, HUB_TURN])).toEqual([HUB_TURN]);
    expect(turnServersNotOffered([HUB_TURN], [HUB_STUN, HUB_TURN])).toEqual([]);
    expect(turnServersNotOffered([{ ...HUB_TURN, username: "other" }], [HUB_TURN])).toEqual([HUB_TURN]);
    expect(turnServersNotOffered([TURN_TLS], [HUB_STUN])).toEqual([]);
  });

  it.each([
    ["new", "nothing", [], [HUB_TURN], true],
    ["checking", "nothing", [], [HUB_TURN], true],
    ["disconnected", "nothing", [], [HUB_TURN], true],
    ["failed", "the site's TURN", [TURN_TLS], [HUB_TURN], true],
    ["connected", "nothing", [], [HUB_TURN], false],
    ["completed", "nothing", [], [HUB_TURN], false],
    ["closed", "nothing", [], [HUB_TURN], false],
    ["checking", "the hub's TURN already", [HUB_TURN], [HUB_TURN], false],
    ["checking", "nothing, the hub names STUN only,", [], [HUB_STUN], false],
    ["checking", "the site's TURN, the hub names none,", [TURN_TLS], [], false],
  ] as const)("ICE %s, offer gathered with %s: restart %s", (iceState, _offer, offered, hub, restart) => {
    expect(shouldRestartForHubTurn({ offered, hub, iceState })).toBe(restart);
  });

  it("gives a relay of the site's own longer before the hub's TURN replaces it", () => {
    expect(hubTurnGraceMs([])).toBe(2_000);
    expect(hubTurnGraceMs([{ urls: "stun:stun.example:3478" }])).toBe(2_000);
    expect(hubTurnGraceMs([TURN_TLS])).toBe(6_000);
  });

  it("restarts with the hub's servers first, the configured ones after", () => {
    expect(restartServers([TURN_TLS], [HUB_STUN, HUB_TURN])).toEqual([HUB_STUN, HUB_TURN, TURN_TLS]);
  });

  it("puts configured URLs in the normal form the stack reads (ports and transports spelt out)", () => {
    expect(
      normalisedServers([
        { urls: "turns:turn.example", username: "u", credential: "p" },
        { urls: "turn:turn.example?transport=tcp", username: "u", credential: "p" },
        { urls: "stun:stun.example" },
      ]).map((server) => server.urls),
    ).toEqual([
      "turns:turn.example:5349?transport=tcp",
      "turn:turn.example:3478?transport=tcp",
      "stun:stun.example:3478",
    ]);
  });
});

describe("the relay policy on werift's candidates and pairs", () => {
  it("signals relay candidates only, and checks relay pairs only", () => {
    const host = "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host";
    const relay = "candidate:2 1 udp 16777215 127.0.0.1 40001 typ relay raddr 127.0.0.1 rport 50001";
    expect([host, relay].filter((candidate) => candidateAllowed(candidate, "relay"))).toEqual([relay]);
    expect([host, relay].filter((candidate) => candidateAllowed(candidate, "all"))).toEqual([host, relay]);
    expect(relayPairsOnly({ localCandidate: { type: "relay" } })).toBe(true);
    expect(relayPairsOnly({ localCandidate: { type: "host" } })).toBe(false);
  });
});

describe("configured ICE servers", () => {
  const withNetwork = (network: unknown) => configInput({ network });

  it("takes STUN and TURN servers and a relay policy, and defaults the policy to all", () => {
    const config = parseConfig(withNetwork({ iceServers: [TURN_TLS, { urls: "stun:stun.example" }] }), "x");
    expect(config.network?.iceServers).toEqual([TURN_TLS, { urls: "stun:stun.example" }]);
    expect(config.network?.iceTransportPolicy).toBe("all");
    const relay = parseConfig(withNetwork({ iceServers: [TURN_TLS], iceTransportPolicy: "relay" }), "x");
    expect(relay.network?.iceTransportPolicy).toBe("relay");
  });

  it("refuses what the stack cannot use, naming each server by its path", () => {
    const input = withNetwork({
      iceServers: [
        { urls: "http://turn.example" },
        { urls: "turn:turn.example:3478" },
        { urls: "turns:turn.example?transport=udp", username: "u", credential: "p" },
      ],
      iceTransportPolicy: "any",
    });
    let issues: unknown;
    try {
      parseConfig(input, "x");
    } catch (error) {
      if (!isSpokeError(error)) throw error;
      issues = error.context.issues;
    }
    expect(issues).toEqual([
      "network.iceServers.0.urls: must be a stun:, turn: or turns: URL (host, optional port, optional ?transport=udp|tcp)",
      "network.iceServers.1: a TURN server needs username and credential",
      "network.iceServers.2.urls: must be a stun:, turn: or turns: URL (host, optional port, optional ?transport=udp|tcp)",
      'network.iceTransportPolicy: Invalid option: expected one of "all"|"relay"',
    ]);
  });

  it("hides TURN credentials when the configuration is shown or logged", () => {
    const config = parseConfig(withNetwork({ iceServers: [TURN_TLS] }), "x");
    expect(configWithSecretsHidden(config).network?.iceServers).toEqual([
      { ...TURN_TLS, credential: "[redacted]" },
    ]);
    const written: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        written.push(chunk.toString());
        done();
      },
    });
    createLogger("info", sink).info({ config }, "configuration loaded");
    expect(written.join("")).not.toContain("s3cret");
    expect(JSON.parse(written[0] ?? "{}").config.network.iceServers[0].username).toBe("site");
  });
});
