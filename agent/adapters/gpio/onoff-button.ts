import type { Logger } from "pino";
import type { ErrorCode } from "../../core/errors.js";

export interface ButtonOptions {
  line: number;
  activeLow: boolean;
  debounceMs: number;
}

export interface OnoffGpio {
  watch(callback: (error: Error | null | undefined, value: number) => void): void;
  unexport(): void;
}
export interface OnoffModule {
  Gpio: {
    accessible: boolean;
    new (
      line: number,
      direction: "in",
      edge: "rising",
      options: { debounceTimeout: number; activeLow: boolean },
    ): OnoffGpio;
  };
}

/**
 * The session button on a GPIO line through sysfs (`onoff`). The button is a convenience beside the
 * control socket, never a reason not to run: whatever keeps it from working (no library, no sysfs GPIO
 * in this kernel, a line that cannot be opened) is a coded warning and the agent goes on. The GPIO
 * character-device path comes later. Returns a function that releases the line.
 */
export async function watchGpioButton(
  options: ButtonOptions,
  onPress: () => void,
  log: Logger,
  loadOnoff: () => Promise<OnoffModule> = async () => (await import("onoff")) as unknown as OnoffModule,
): Promise<() => void> {
  const disabled = (reason: string, details: Record<string, unknown>): (() => void) => {
    log.warn(
      { code: "SPOKE_BUTTON_UNAVAILABLE" satisfies ErrorCode, line: options.line, ...details },
      `${reason}; the physical button is disabled (the control socket still works)`,
    );
    return () => undefined;
  };
  let onoff: OnoffModule;
  try {
    onoff = await loadOnoff();
  } catch (error) {
    return disabled("GPIO library unavailable", { error: String(error) });
  }
  if (!onoff.Gpio.accessible) return disabled("no sysfs GPIO on this system", {});
  let gpio: OnoffGpio;
  try {
    // With activeLow, onoff reports 1 while pressed; "rising" then means "pressed".
    gpio = new onoff.Gpio(options.line, "in", "rising", {
      debounceTimeout: options.debounceMs,
      activeLow: options.activeLow,
    });
  } catch (error) {
    // EINVAL here is typically a BCM number on a kernel (6.6+) that numbers sysfs lines from a chip base.
    return disabled(`cannot open GPIO line ${options.line}`, { error: String(error) });
  }
  gpio.watch((error, value) => {
    if (error) log.warn({ error: error.message }, "GPIO read failed");
    else if (value === 1) onPress();
  });
  log.info({ line: options.line }, "session button ready");
  return () => gpio.unexport();
}
