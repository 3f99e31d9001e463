/**
 * The receiving peer of `bench/stacks.ts`, in its own process so that its CPU is not counted: a werift
 * WHIP hub that counts the RTP it receives and tells the parent on request (IPC).
 */
import { WeriftWhipHub } from "../test/helpers/werift-whip-hub.js";

let packets = 0;
let bytes = 0;
const hub = new WeriftWhipHub({
  onRtp: (packet) => {
    packets += 1;
    bytes += packet.payload.length + 12;
  },
});

async function main(): Promise<void> {
  await hub.start();
  process.send?.({ type: "endpoint", endpoint: hub.endpoint });
  process.on("message", (message: { type: string }) => {
    if (message.type === "count") {
      const sessions = [...hub.sessions.values()].map((session) => ({
        packets: session.packets,
        state: session.pc.connectionState,
      }));
      process.send?.({ type: "count", packets, bytes, sessions });
    }
  });
  process.on("disconnect", () => {
    hub
      .stop()
      .catch(() => undefined)
      .finally(() => process.exit(0));
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
