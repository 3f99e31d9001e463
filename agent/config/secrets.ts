import type { SpokeConfig } from "./schema.js";

const HIDDEN = "[redacted]";

/**
 * The configuration as it may be shown (`spoke check-config`, support tickets): every secret replaced,
 * but still saying which secrets are set.
 */
export function configWithSecretsHidden(config: SpokeConfig): SpokeConfig {
  const shown = structuredClone(config);
  for (const feed of shown.feeds) {
    if (feed.whip.bearerToken !== undefined) feed.whip.bearerToken = HIDDEN;
  }
  if (shown.mqtt.password !== undefined) shown.mqtt.password = HIDDEN;
  for (const server of shown.network?.iceServers ?? []) {
    if (server.credential !== undefined) server.credential = HIDDEN;
  }
  return shown;
}
