import type { Logger } from "pino";

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
 * The session button on a GPIO line through sysfs (`onoff`). Boxes whose kernel has no sysfs GPIO get a
 * warning and keep the other inputs (control socket); the GPIO character-device path comes later.
 * Returns a function that releases the line.
 */
export async function watchGpioButton(
  options: ButtonOptions,
  onPress: () => void,
  log: Logger,
  loadOnoff: () => Promise<OnoffModule> = async () => (await import("onoff")) as unknown as OnoffModule,
): Promise<() => void> {
  let onoff: OnoffModule;
  try {
    onoff = await loadOnoff();
  } catch (error) {
    log.warn({ error: String(error) }, "GPIO library unavailable; the physical button is disabled");
    return () => undefined;
  }
  if (!onoff.Gpio.accessible) {
    log.warn({ line: options.line }, "no sysfs GPIO on this system; the physical button is disabled");
    return () => undefined;
  }
  // With activeLow, onoff reports 1 while pressed; "rising" then means "pressed".
  const gpio = new onoff.Gpio(options.line, "in", "rising", {
    debounceTimeout: options.debounceMs,
    activeLow: options.activeLow,
  });
  gpio.watch((error, value) => {
    if (error) log.warn({ error: error.message }, "GPIO read failed");
    else if (value === 1) onPress();
  });
  log.info({ line: options.line }, "session button ready");
  return () => gpio.unexport();
}
