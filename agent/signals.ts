/**
 * SIGTERM (systemd) and SIGINT end the session cleanly: WHIP DELETE, workers stopped, `offline` published.
 * A second signal while that runs exits at once: whoever sends it has decided not to wait.
 */
export function stopOnSignals(stop: () => Promise<void>): void {
  let stopping = false;
  const onSignal = (): void => {
    if (stopping) {
      console.error("spoke: stopping at once, without finishing the clean stop");
      process.exit(1);
    }
    stopping = true;
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}
