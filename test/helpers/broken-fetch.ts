import { vi } from "vitest";

/**
 * From now on (until vi.restoreAllMocks), every fetch gets the server's real answer but with a body that
 * has already failed, as when the connection drops between an answer's headers and its body. A real
 * socket cannot stage that race on cue.
 */
export function breakAnswerBodies(): void {
  const realFetch = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const real = await realFetch(input, init);
    await real.body?.cancel();
    const broken = new ReadableStream({
      start: (controller) => controller.error(new TypeError("terminated")),
    });
    return new Response(broken, { status: real.status, headers: real.headers });
  });
}
