import { Writable } from "node:stream";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { type OnoffGpio, type OnoffModule, watchGpioButton } from "../../agent/adapters/gpio/onoff-button.js";

/** Stands in for the GPIO hardware: records how the line was opened and lets the test move it. */
class FakeLine implements OnoffGpio {
  static accessible = true;
  static opened: FakeLine[] = [];
  callback: ((error: Error | null | undefined, value: number) => void) | undefined;
  released = false;

  constructor(
    readonly line: number,
    readonly direction: string,
    readonly edge: string,
    readonly options: { debounceTimeout: number; activeLow: boolean },
  ) {
    FakeLine.opened.push(this);
  }

  watch(callback: (error: Error | null | undefined, value: number) => void): void {
    this.callback = callback;
  }

  unexport(): void {
    this.released = true;
  }
}

function capturingLog() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()));
      done();
    },
  });
  return { log: pino({ level: "info" }, sink), lines };
}

const options = { line: 17, activeLow: true, debounceMs: 30 };

describe("GPIO session button", () => {
  it("opens the line debounced and active-low, presses on each rising edge, and releases it", async () => {
    FakeLine.opened = [];
    FakeLine.accessible = true;
    let presses = 0;
    const { log } = capturingLog();
    const release = await watchGpioButton(
      options,
      () => presses++,
      log,
      async () => ({ Gpio: FakeLine }) as OnoffModule,
    );
    const [line] = FakeLine.opened;
    expect(line).toMatchObject({
      line: 17,
      direction: "in",
      edge: "rising",
      options: { debounceTimeout: 30, activeLow: true },
    });
    line?.callback?.(null, 1);
    line?.callback?.(null, 0);
    line?.callback?.(undefined, 1);
    expect(presses).toBe(2);
    line?.callback?.(new Error("EIO"), 1);
    expect(presses).toBe(2);
    release();
    expect(line?.released).toBe(true);
  });

  it("keeps the agent running with a warning where the kernel has no sysfs GPIO", async () => {
    FakeLine.opened = [];
    FakeLine.accessible = false;
    const { log, lines } = capturingLog();
    const release = await watchGpioButton(
      options,
      () => undefined,
      log,
      async () => ({ Gpio: FakeLine }) as OnoffModule,
    );
    expect(FakeLine.opened).toEqual([]);
    expect(lines.map((line) => [line.code, line.msg])).toEqual([
      [
        "SPOKE_BUTTON_UNAVAILABLE",
        "no sysfs GPIO on this system; the physical button is disabled (the control socket still works)",
      ],
    ]);
    release();
  });

  it("keeps the agent running with a warning when the GPIO library cannot load", async () => {
    const { log, lines } = capturingLog();
    await watchGpioButton(
      options,
      () => undefined,
      log,
      () => Promise.reject(new Error("no epoll on this OS")),
    );
    expect(lines[0]).toMatchObject({
      code: "SPOKE_BUTTON_UNAVAILABLE",
      msg: "GPIO library unavailable; the physical button is disabled (the control socket still works)",
    });
  });

  it("keeps the agent running with a warning when the line cannot be opened (a BCM number on kernel 6.6+)", async () => {
    class RefusedLine extends FakeLine {
      constructor(...args: ConstructorParameters<typeof FakeLine>) {
        super(...args);
        throw new Error("EINVAL: invalid argument, write");
      }
    }
    RefusedLine.accessible = true;
    const { log, lines } = capturingLog();
    const release = await watchGpioButton(
      options,
      () => undefined,
      log,
      async () => ({ Gpio: RefusedLine }) as OnoffModule,
    );
    expect(lines[0]).toMatchObject({
      code: "SPOKE_BUTTON_UNAVAILABLE",
      line: 17,
      error: "Error: EINVAL: invalid argument, write",
      msg: "cannot open GPIO line 17; the physical button is disabled (the control socket still works)",
    });
    release();
  });
});
