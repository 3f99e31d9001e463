import type { ChildProcess } from "node:child_process";

/**
 * Ends a server process a test started and resolves once it has exited, so the next test finds its
 * ports and files free. Nothing to do when it has exited already.
 */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill(signal);
  await exited;
}
