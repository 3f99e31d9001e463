/** The MQTT topic catalogue: everything lives under `spoke/v1/<deviceId>/`. */
export const TOPIC_ROOT = "spoke/v1";

export type TopicName = "status" | "health" | "session" | "events";

export function deviceTopic(deviceId: string, name: TopicName): string {
  return `${TOPIC_ROOT}/${deviceId}/${name}`;
}

/** Payload of the retained `status` topic; `lost` is the broker's Last Will when the agent vanishes. */
export interface PresencePayload {
  state: "online" | "offline" | "lost";
  at?: string;
  agentVersion?: string;
}

/** One message for the fleet: retained topics carry the latest state, `events` are a stream. */
export interface FleetPublish {
  topic: TopicName;
  payload: unknown;
  retain: boolean;
}
