import { describe, expect, it } from "vitest";
import { checkAnswerMedia, unusableAnswer } from "../../agent/core/whip/answer-media.js";
import { normaliseIceUrl, parseIceServerLinks } from "../../agent/core/whip/link-header.js";
import {
  BACKOFF_MAX_MS,
  BACKOFF_MIN_MS,
  MAX_RETRY_AFTER_MS,
  parseRetryAfter,
  type WhipFailure,
  whipRetryPlan,
} from "../../agent/core/whip/retry.js";
import {
  applyRemoteIce,
  buildSdpFrag,
  readOfferIce,
  readRemoteIce,
  withCandidates,
} from "../../agent/core/whip/sdpfrag.js";

describe("Link ICE servers", () => {
  it("reads STUN and TURN servers with credentials from one header, ignoring other relations", () => {
    const header = [
      '<stun:stun.example.net>; rel="ice-server"',
      '<turn:turn.example.net?transport=udp>; rel="ice-server"; username="user"; credential="my, pass"; credential-type="password"',
      "<turns:turn.example.net:443?transport=tcp>; rel=ice-server; username=u2; credential=p2",
      '<urn:ietf:params:whip:ext:example:server-sent-events>; rel="urn:ietf:params:whip:ext:example:server-sent-events"',
      '<https://example.net/next>; rel="next"',
    ].join(", ");
    expect(parseIceServerLinks(header)).toEqual([
      { urls: "stun:stun.example.net:3478" },
      { urls: "turn:turn.example.net:3478?transport=udp", username: "user", credential: "my, pass" },
      { urls: "turns:turn.example.net:443?transport=tcp", username: "u2", credential: "p2" },
    ]);
  });

  it("takes several header values and a rel list", () => {
    expect(
      parseIceServerLinks([
        '<turn:10.0.0.1:3479?transport=tcp>; rel="preload ice-server"; username="a"; credential="b"',
        '<stun:[2001:db8::1]:19302>; rel="ice-server"',
      ]),
    ).toEqual([
      { urls: "turn:10.0.0.1:3479?transport=tcp", username: "a", credential: "b" },
      { urls: "stun:[2001:db8::1]:19302" },
    ]);
  });

  it.each([
    ["TURN without credentials", '<turn:t.example>; rel="ice-server"'],
    [
      "OAuth credentials",
      '<turn:t.example>; rel="ice-server"; username=a; credential=b; credential-type=oauth',
    ],
    ["an unknown scheme", '<http://t.example>; rel="ice-server"'],
    ["TURN over DTLS", '<turns:t.example?transport=udp>; rel="ice-server"; username=a; credential=b'],
    ["an unknown transport", '<turn:t.example?transport=sctp>; rel="ice-server"; username=a; credential=b'],
    ["a bad port", '<stun:t.example:70000>; rel="ice-server"'],
    ["a control character", '<turn:t.example>; rel="ice-server"; username="a\u0001"; credential=b'],
    ["an unclosed bracket", '<stun:t.example; rel="ice-server"'],
    ["garbage", ';;;,,,<>;="";rel'],
    ["nothing", ""],
  ])("skips %s", (_what, header) => {
    expect(parseIceServerLinks(header)).toEqual([]);
  });

  it("stays bounded on a huge hostile header", () => {
    const one = '<stun:s.example>; rel="ice-server", ';
    const started = Date.now();
    const servers = parseIceServerLinks(one.repeat(100_000) + '"'.repeat(100_000));
    expect(servers.length).toBeLessThanOrEqual(16);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(parseIceServerLinks(`<stun:s.example>; rel="${"x".repeat(100_000)}`)).toEqual([]);
  });

  it.each<[string, string | undefined]>([
    ["stun:s.example", "stun:s.example:3478"],
    ["turn:t.example", "turn:t.example:3478?transport=udp"],
    ["TURN:T.example:80?transport=TCP", "turn:T.example:80?transport=tcp"],
    ["turns:t.example", "turns:t.example:5349?transport=tcp"],
    ["turns:t.example:443", "turns:t.example:443?transport=tcp"],
    ["stun:s.example?transport=udp", undefined],
    ["stun:user@s.example", undefined],
  ])("normalises %s", (url, expected) => {
    expect(normaliseIceUrl(url)).toBe(expected);
  });
});

const OFFER = [
  "v=0",
  "o=- 1 1 IN IP4 0.0.0.0",
  "s=-",
  "t=0 0",
  "a=group:BUNDLE 0 1",
  "m=video 9 UDP/TLS/RTP/SAVPF 96",
  "c=IN IP4 0.0.0.0",
  "a=ice-ufrag:abcd",
  "a=ice-pwd:0123456789abcdefghijkl",
  "a=mid:0",
  "a=candidate:1 1 udp 2130706431 10.0.0.2 5000 typ host",
  "m=audio 9 UDP/TLS/RTP/SAVPF 111",
  "a=ice-ufrag:abcd",
  "a=ice-pwd:0123456789abcdefghijkl",
  "a=mid:1",
  "",
].join("\r\n");

describe("trickle sdpfrag", () => {
  it("builds an RFC 8840 fragment for the bundled section, candidates and end-of-candidates", () => {
    const ice = readOfferIce(OFFER);
    expect(ice).toEqual({
      ufrag: "abcd",
      pwd: "0123456789abcdefghijkl",
      bundle: "a=group:BUNDLE 0 1",
      media: [
        { mLine: "m=video 9 UDP/TLS/RTP/SAVPF 96", mid: "0" },
        { mLine: "m=audio 9 UDP/TLS/RTP/SAVPF 111", mid: "1" },
      ],
    });
    if (!ice) return;
    expect(
      buildSdpFrag(
        ice,
        ["candidate:2 1 udp 1694498815 203.0.113.5 6000 typ srflx raddr 10.0.0.2 rport 5000"],
        {
          endOfCandidates: true,
        },
      ),
    ).toBe(
      [
        "a=group:BUNDLE 0 1",
        "a=ice-ufrag:abcd",
        "a=ice-pwd:0123456789abcdefghijkl",
        "m=video 9 UDP/TLS/RTP/SAVPF 96",
        "a=mid:0",
        "a=candidate:2 1 udp 1694498815 203.0.113.5 6000 typ srflx raddr 10.0.0.2 rport 5000",
        "a=end-of-candidates",
        "",
      ].join("\r\n"),
    );
  });

  it("has no candidates and no end marker in a bare restart fragment; each section without BUNDLE", () => {
    const ice = {
      ufrag: "u",
      pwd: "p",
      media: [
        { mLine: "m=video 9 X 96", mid: "v" },
        { mLine: "m=audio 9 X 111", mid: "a" },
      ],
    };
    expect(buildSdpFrag(ice, [], { endOfCandidates: false })).toBe(
      "a=ice-ufrag:u\r\na=ice-pwd:p\r\nm=video 9 X 96\r\na=mid:v\r\nm=audio 9 X 111\r\na=mid:a\r\n",
    );
  });

  it("is not made from an SDP without ICE credentials", () => {
    expect(readOfferIce("v=0\r\nm=video 9 X 96\r\n")).toBeUndefined();
  });

  it("adds the candidates gathered since the offer to each section, once", () => {
    const sdp = withCandidates(
      OFFER,
      [
        "candidate:1 1 udp 2130706431 10.0.0.2 5000 typ host",
        "candidate:3 1 udp 2130706431 10.8.0.6 5001 typ host",
      ],
      true,
    );
    expect(sdp.match(/a=candidate:1 /g)).toHaveLength(2);
    expect(sdp.match(/a=candidate:3 /g)).toHaveLength(2);
    expect(sdp.match(/a=end-of-candidates/g)).toHaveLength(2);
    expect(sdp.indexOf("a=candidate:3")).toBeLessThan(sdp.indexOf("m=audio"));
  });

  it("puts the hub's new credentials and candidates into its answer after an ICE restart", () => {
    const answer = OFFER.replaceAll("abcd", "hub1");
    const frag =
      "a=ice-ufrag:hub2\r\na=ice-pwd:newpassword0123456789\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\na=candidate:9 1 udp 2130706431 192.0.2.9 7000 typ host\r\na=end-of-candidates\r\n";
    const remote = readRemoteIce(frag);
    expect(remote).toEqual({
      ufrag: "hub2",
      pwd: "newpassword0123456789",
      candidates: ["a=candidate:9 1 udp 2130706431 192.0.2.9 7000 typ host"],
    });
    if (!remote) return;
    const updated = applyRemoteIce(answer, remote);
    expect(updated).not.toContain("hub1");
    expect(updated.match(/a=ice-ufrag:hub2/g)).toHaveLength(2);
    expect(updated).not.toContain("10.0.0.2");
    expect(updated.match(/192\.0\.2\.9/g)).toHaveLength(2);
    // Without candidates in the fragment, the old ones stay.
    expect(applyRemoteIce(answer, { ...remote, candidates: [] })).toContain("10.0.0.2 5000");
  });
});

describe("Retry-After", () => {
  const now = Date.parse("2025-01-01T00:00:00Z");
  it.each<[string | null, number | undefined]>([
    [null, undefined],
    ["", undefined],
    ["3", 3000],
    [" 0 ", 0],
    ["999999", MAX_RETRY_AFTER_MS],
    ["-5", undefined],
    ["1.5", undefined],
    ["Wed, 01 Jan 2025 00:00:10 GMT", 10_000],
    ["Tue, 31 Dec 2024 23:00:00 GMT", 0],
    ["Thu, 01 Jan 2026 00:00:00 GMT", MAX_RETRY_AFTER_MS],
    ["soon", undefined],
    ["2025", MAX_RETRY_AFTER_MS],
  ])("%j → %j ms", (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });
});

describe("WHIP retry plan", () => {
  const mid = () => 0.5;
  it.each<[string, WhipFailure, number, () => number, number, "configuration" | "transient"]>([
    ["401: slow", { kind: "http", status: 401, message: "bad token" }, 0, () => 0, 30_000, "configuration"],
    [
      "404 late attempt: still slow, not slower",
      { kind: "http", status: 404 },
      9,
      () => 0.999999,
      60_000,
      "configuration",
    ],
    [
      "422 with a longer Retry-After",
      { kind: "http", status: 422, retryAfterMs: 90_000 },
      0,
      mid,
      90_000,
      "configuration",
    ],
    ["503 first retry", { kind: "http", status: 503 }, 0, mid, 500, "transient"],
    ["503 with Retry-After", { kind: "http", status: 503, retryAfterMs: 2_000 }, 0, mid, 2_000, "transient"],
    ["500 third retry", { kind: "http", status: 500 }, 2, mid, 2_000, "transient"],
    ["timeout, low jitter", { kind: "timeout" }, 3, () => 0, 3_000, "transient"],
    ["network, high jitter", { kind: "network" }, 3, () => 0.999999, 5_000, "transient"],
    ["capped", { kind: "network" }, 30, () => 0.999999, BACKOFF_MAX_MS, "transient"],
    ["never below the floor", { kind: "network" }, 0, () => 0, BACKOFF_MIN_MS, "transient"],
    ["429 is transient", { kind: "http", status: 429, retryAfterMs: 7_000 }, 0, mid, 7_000, "transient"],
    ["408 is transient", { kind: "http", status: 408 }, 1, mid, 1_000, "transient"],
  ])("%s", (_name, failure, attempt, random, delayMs, cause) => {
    const plan = whipRetryPlan(failure, attempt, random);
    expect(plan.delayMs).toBe(delayMs);
    expect(plan.cause).toBe(cause);
  });

  it("keeps the hub's message in the reason", () => {
    expect(whipRetryPlan({ kind: "http", status: 401, message: "bad token" }, 0, Math.random).reason).toBe(
      "the hub refused the request (401): bad token",
    );
    expect(whipRetryPlan({ kind: "timeout" }, 0, Math.random).reason).toBe("the hub did not answer in time");
  });

  it("spreads boxes apart: jitter changes the wait", () => {
    const low = whipRetryPlan({ kind: "http", status: 502 }, 4, () => 0).delayMs;
    const high = whipRetryPlan({ kind: "http", status: 502 }, 4, () => 0.99).delayMs;
    expect(high - low).toBeGreaterThan(3_000);
    expect(low).toBeGreaterThanOrEqual(BACKOFF_MIN_MS);
    expect(high).toBeLessThanOrEqual(BACKOFF_MAX_MS);
  });
});

describe("the hub's SDP answer, checked before the WebRTC stack gets it", () => {
  const answer = (video: number, audio?: number) =>
    [
      "v=0",
      `m=video ${video} UDP/TLS/RTP/SAVPF 96`,
      ...(audio === undefined ? [] : [`m=audio ${audio} UDP/TLS/RTP/SAVPF 111`]),
    ].join("\r\n");

  it("fails with SPOKE_WHIP_BAD_ANSWER when the video is rejected (port 0)", () => {
    expect(() => checkAnswerMedia(answer(0, 9), true)).toThrow(
      expect.objectContaining({ code: "SPOKE_WHIP_BAD_ANSWER" }),
    );
  });

  it("warns with SPOKE_WHIP_AUDIO_REJECTED when offered audio is rejected or missing, and goes on", () => {
    expect(checkAnswerMedia(answer(9, 0), true).audioRejected?.code).toBe("SPOKE_WHIP_AUDIO_REJECTED");
    expect(checkAnswerMedia(answer(9), true).audioRejected?.code).toBe("SPOKE_WHIP_AUDIO_REJECTED");
  });

  it("has nothing to say when what was offered was taken, or audio was not offered", () => {
    expect(checkAnswerMedia(answer(9, 9), true)).toEqual({});
    expect(checkAnswerMedia(answer(9), false)).toEqual({});
  });

  it("names what the stack threw when it refuses the answer", () => {
    const error = unusableAnswer(new Error("no fingerprint"));
    expect(error).toMatchObject({ code: "SPOKE_WHIP_BAD_ANSWER" });
    expect(error.message).toContain("no fingerprint");
  });
});
