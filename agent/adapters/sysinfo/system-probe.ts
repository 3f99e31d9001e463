import { uptime } from "node:os";
import si from "systeminformation";
import type { SystemProbe } from "../../app/ports.js";
import type { SystemSnapshot } from "../../core/health.js";

const round1 = (value: number): number => Math.round(value * 10) / 10;

/**
 * Reads machine figures with systeminformation. Uses `os.uptime()` rather than `si.time()`, which runs
 * a synchronous `date` and blocks the event loop.
 */
export class SysinfoProbe implements SystemProbe {
  async snapshot(): Promise<SystemSnapshot> {
    const [load, memory, temperature] = await Promise.all([si.currentLoad(), si.mem(), si.cpuTemperature()]);
    return {
      cpuLoadPercent: round1(load.currentLoad),
      memoryUsedPercent: round1((memory.active / memory.total) * 100),
      memoryTotalBytes: memory.total,
      cpuTemperatureC: typeof temperature.main === "number" && temperature.main > 0 ? temperature.main : null,
      osUptimeSeconds: Math.round(uptime()),
    };
  }
}
