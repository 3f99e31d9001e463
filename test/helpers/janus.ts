import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../devhub/mosquitto.js";
import { stopChild } from "./child-process.js";

/** Where Debian's `janus` package puts its plugins and transports. */
const JANUS_LIB = "/usr/lib/x86_64-linux-gnu/janus";
/** The one VideoRoom room the tests publish into. */
export const JANUS_ROOM = 1234;

/** One message of Janus's HTTP API (https://janus.conf.meetecho.com/docs/rest.html), as far as we read it. */
export interface JanusMessage {
  janus: string;
  transaction?: string;
  data?: { id?: number };
  error?: { code: number; reason: string };
  plugindata?: { plugin: string; data: Record<string, unknown> };
  jsep?: { type: string; sdp: string };
  sender?: number;
}

/**
 * A real Janus (Debian's `janus`, 1.1) for tests: its own configuration in a temporary folder with the
 * VideoRoom plugin and the HTTP transport only (symlinked from the package), on free ports, bound to
 * loopback; one H.264 + Opus room. `janus.version` says which Janus it is.
 */
export class Janus {
  port = 0;
  version = "";
  private dir = "";
  private child: ChildProcess | undefined;
  private output = "";

  get apiUrl(): string {
    return `http://127.0.0.1:${this.port}/janus`;
  }

  async start(): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), "spoke-janus-"));
    this.port = await freePort();
    const folder = async (name: string, libs: string[]): Promise<string> => {
      const path = join(this.dir, name);
      await mkdir(path);
      for (const lib of libs) await symlink(join(JANUS_LIB, name, lib), join(path, lib));
      return path;
    };
    const plugins = await folder("plugins", ["libjanus_videoroom.so"]);
    const transports = await folder("transports", ["libjanus_http.so"]);
    const events = await folder("events", []);
    const loggers = await folder("loggers", []);
    const rtpFrom = 40_000 + Math.floor(Math.random() * 15_000);
    await writeFile(
      join(this.dir, "janus.jcfg"),
      `general: {
  configs_folder = "${this.dir}"
  plugins_folder = "${plugins}"
  transports_folder = "${transports}"
  events_folder = "${events}"
  loggers_folder = "${loggers}"
  debug_level = 3
  server_name = "spoke-test"
  session_timeout = 60
}
media: {
  rtp_port_range = "${rtpFrom}-${rtpFrom + 2000}"
}
nat: {
  nice_debug = false
  ice_ignore_list = "vmnet,docker,veth"
}
`,
    );
    await writeFile(
      join(this.dir, "janus.transport.http.jcfg"),
      `general: {
  json = "plain"
  base_path = "/janus"
  http = true
  port = ${this.port}
  ip = "127.0.0.1"
  https = false
}
admin: {
  admin_http = false
}
`,
    );
    await writeFile(
      join(this.dir, "janus.plugin.videoroom.jcfg"),
      `general: {
}
room-${JANUS_ROOM}: {
  description = "Spoke test room"
  publishers = 8
  bitrate = 4000000
  fir_freq = 10
  videocodec = "h264"
  audiocodec = "opus"
}
`,
    );
    const child = spawn("janus", ["-C", join(this.dir, "janus.jcfg"), "-F", this.dir, "-o"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    const keep = (chunk: string) => {
      this.output = (this.output + chunk).slice(-20_000);
    };
    child.stdout?.setEncoding("utf8").on("data", keep);
    child.stderr?.setEncoding("utf8").on("data", keep);
    this.version = await this.waitForInfo(child);
  }

  /** What Janus printed lately: for a failing test's message. */
  get log(): string {
    return this.output;
  }

  /** One request of the HTTP API (`path` under /janus), with a fresh transaction id. */
  async request(path: string, body: Record<string, unknown>): Promise<JanusMessage> {
    const response = await fetch(`${this.apiUrl}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...body, transaction: randomUUID() }),
    });
    return (await response.json()) as JanusMessage;
  }

  /** The next events of a session (Janus's long poll; it answers a keepalive after 30 s without any). */
  async poll(session: number): Promise<JanusMessage[]> {
    const response = await fetch(`${this.apiUrl}/${session}?maxev=5`);
    const body = (await response.json()) as JanusMessage | JanusMessage[];
    return Array.isArray(body) ? body : [body];
  }

  async stop(): Promise<void> {
    if (this.child) await stopChild(this.child, "SIGKILL");
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }

  private async waitForInfo(child: ChildProcess, timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null)
        throw new Error(`janus exited with code ${child.exitCode}:\n${this.output}`);
      const info = await fetch(`${this.apiUrl}/info`)
        .then((response) => response.json() as Promise<{ version_string?: string }>)
        .catch(() => undefined);
      if (info?.version_string) return info.version_string;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`janus did not answer on ${this.apiUrl} within ${timeoutMs} ms:\n${this.output}`);
  }
}
