import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort, waitForPort } from "../../devhub/mosquitto.js";
import { stopChild } from "./child-process.js";

const run = promisify(execFile);

export interface TurnCredentials {
  username: string;
  credential: string;
}

/**
 * A real TURN server (coturn's `turnserver`, from Debian) on loopback, for tests: plain listener (UDP and
 * TCP) and TLS listener on free ports, long-term credentials, a self-signed certificate made for the
 * run (for `localhost` and 127.0.0.1), relay addresses on 127.0.0.1 with loopback peers allowed (coturn
 * refuses to relay to loopback by default). Everything it writes stays in its own temporary folder.
 */
export class Coturn {
  readonly credentials: TurnCredentials = { username: "spoke", credential: "relay-secret" };
  /** The certificate the TLS listener presents (PEM): a client trusts it as its CA. */
  certificate = "";
  port = 0;
  tlsPort = 0;
  private dir = "";
  private child: ChildProcess | undefined;
  private output = "";

  async start(): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), "spoke-coturn-"));
    const cert = join(this.dir, "cert.pem");
    const key = join(this.dir, "key.pem");
    await run("openssl", [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
      ...["-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost"],
      ...["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
    ]);
    this.certificate = await readFile(cert, "utf8");
    this.port = await freePort();
    this.tlsPort = await freePort();
    // A wide random range: coturn picks relay ports in it at random and skips ports in use.
    const minPort = 20_000 + Math.floor(Math.random() * 20_000);
    const { username, credential } = this.credentials;
    const args = [
      ...["--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", `--listening-port=${this.port}`],
      ...[`--tls-listening-port=${this.tlsPort}`, `--cert=${cert}`, `--pkey=${key}`, "--no-dtls"],
      ...[`--min-port=${minPort}`, `--max-port=${minPort + 5000}`],
      ...["--lt-cred-mech", "--fingerprint", "--realm=spoke.test", `--user=${username}:${credential}`],
      ...["--allow-loopback-peers", "--no-cli", "--no-software-attribute"],
      ...[`--userdb=${join(this.dir, "turndb")}`, `--pidfile=${join(this.dir, "turnserver.pid")}`],
      ...["--log-file=stdout", "--verbose"],
    ];
    const child = spawn("turnserver", args, { stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    const keep = (chunk: string) => {
      this.output = (this.output + chunk).slice(-10_000);
    };
    child.stdout?.setEncoding("utf8").on("data", keep);
    child.stderr?.setEncoding("utf8").on("data", keep);
    try {
      await waitForPort(this.port, child, 10_000);
      await waitForPort(this.tlsPort, child, 10_000);
    } catch (error) {
      throw new Error(`turnserver did not start: ${String(error)}\n${this.output}`);
    }
  }

  /** `turn:` over UDP, `turn:?transport=tcp`, or `turns:` (TLS) on this server. */
  url(transport: "udp" | "tcp" | "tls", host = "127.0.0.1"): string {
    if (transport === "tls") return `turns:${host}:${this.tlsPort}?transport=tcp`;
    return `turn:${host}:${this.port}?transport=${transport}`;
  }

  /** What the server printed lately (allocations, permissions, errors): for a failing test's message. */
  get log(): string {
    return this.output;
  }

  async stop(): Promise<void> {
    if (this.child) await stopChild(this.child, "SIGTERM");
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}
