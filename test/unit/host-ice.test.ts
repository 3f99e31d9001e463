import type { NetworkInterfaceInfo } from "node:os";
import { describe, expect, it } from "vitest";
import {
  iceConnectionServers,
  skippedInterfaceAddresses,
} from "../../agent/adapters/webrtc/host-only-ice.js";

function iface(address: string, family: "IPv4" | "IPv6", internal = false): NetworkInterfaceInfo {
  const common = { address, netmask: "", mac: "00:00:00:00:00:00", internal, cidr: null };
  return family === "IPv4" ? { ...common, family } : { ...common, family, scopeid: 0 };
}

describe("host candidates werift leaves out", () => {
  it("adds back the tunnel and veth interfaces' usable addresses, not the ones werift already takes", () => {
    expect(
      skippedInterfaceAddresses({
        eth0: [iface("192.168.1.20", "IPv4")],
        tun0: [iface("10.8.0.6", "IPv4"), iface("fe80::1", "IPv6")],
        ipsec0: [iface("172.16.0.2", "IPv4")],
        "veth-hub": [iface("10.200.0.1", "IPv4"), iface("fd00::5", "IPv6")],
        tap1: [iface("169.254.3.3", "IPv4")],
        lo: [iface("127.0.0.1", "IPv4", true)],
      }),
    ).toEqual(["10.8.0.6", "172.16.0.2", "10.200.0.1", "fd00::5"]);
  });
});

describe("ICE servers for werift's connection", () => {
  it("takes the first STUN and the first TURN with credentials, with their transport", () => {
    expect(
      iceConnectionServers([
        { urls: "turn:t0.example:3478?transport=udp" },
        { urls: "stun:[2001:db8::1]:3478" },
        { urls: "turns:t.example:443?transport=tcp", username: "u", credential: "p" },
        { urls: "turn:t2.example:3478?transport=tcp", username: "u", credential: "p" },
        { urls: "stun:s2.example:3478" },
      ]),
    ).toEqual({
      stun: ["2001:db8::1", 3478],
      turn: { address: ["t.example", 443], username: "u", password: "p", transport: "tls" },
    });
  });
});
