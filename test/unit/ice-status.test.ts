import { describe, expect, it } from "vitest";
import { iceStatus } from "../../agent/core/ice-status.js";

describe("the ICE figures health shows", () => {
  it.each([
    [
      "a host pair",
      "candidate:1 1 udp 2130706431 192.168.1.20 50000 typ host",
      undefined,
      { candidateType: "host", transport: "udp" },
    ],
    [
      "a server-reflexive one",
      "candidate:2 1 UDP 1694498815 203.0.113.7 40000 typ srflx raddr 0.0.0.0 rport 0",
      undefined,
      { candidateType: "srflx", transport: "udp" },
    ],
    [
      "a relay through TURN over TLS",
      "candidate:3 1 udp 16777215 198.51.100.1 49152 typ relay raddr 10.0.0.2 rport 51000",
      "tls" as const,
      { candidateType: "relay", transport: "tls" },
    ],
    [
      "a relay through TURN over TCP",
      "a=candidate:3 1 udp 16777215 198.51.100.1 49152 typ relay",
      "tcp" as const,
      { candidateType: "relay", transport: "tcp" },
    ],
    [
      "a TCP host pair",
      "candidate:4 1 tcp 1518280447 192.168.1.20 9 typ host tcptype active",
      undefined,
      { candidateType: "host", transport: "tcp" },
    ],
  ])("names the candidate type and transport of %s", (_, line, turn, expected) => {
    expect(iceStatus("connected", line, turn)).toEqual({ state: "connected", ...expected });
  });

  it("gives the state alone before a pair is selected, or for a line without a type", () => {
    expect(iceStatus("checking", undefined, undefined)).toEqual({ state: "checking" });
    expect(iceStatus("connected", "candidate:garbage", undefined)).toEqual({ state: "connected" });
  });
});
