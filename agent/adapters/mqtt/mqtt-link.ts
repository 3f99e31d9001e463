import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import type { Logger } from "pino";
import type { MqttConfig } from "../../config/schema.js";
import { deviceTopic, type FleetPublish, type PresencePayload, type TopicName } from "../../core/topics.js";

/** How long stopping waits for the broker to acknowledge `offline` and the messages still in flight. */
const GOODBYE_TIMEOUT_MS = 2000;

/** Events published while the broker is away are kept up to this many, oldest dropped first. */
const MAX_QUEUED_EVENTS = 100;

/**
 * The agent's MQTT connection. The broker is never a start-up dependency: the agent runs without it and
 * reconnects forever. While offline, retained topics keep only their latest value (telemetry is "latest
 * wins") and events queue up to a bound, so a long outage cannot flood the broker or grow memory.
 */
export class MqttLink {
  private client: MqttClient | undefined;
  private readonly latestRetained = new Map<TopicName, unknown>();
  private queuedEvents: unknown[] = [];
  private stopping = false;

  constructor(
    private readonly config: MqttConfig,
    private readonly deviceId: string,
    private readonly agentVersion: string,
    private readonly log: Logger,
  ) {}

  start(): void {
    const will: PresencePayload = { state: "lost" };
    const options: IClientOptions = {
      protocolVersion: this.config.protocolVersion,
      clientId: `spoke-${this.deviceId}`,
      clean: true,
      reconnectPeriod: 2000,
      connectTimeout: 10_000,
      queueQoSZero: false,
      will: {
        topic: deviceTopic(this.deviceId, "status"),
        payload: Buffer.from(JSON.stringify(will)),
        qos: 1,
        retain: true,
      },
    };
    if (this.config.username !== undefined) options.username = this.config.username;
    if (this.config.password !== undefined) options.password = this.config.password;
    const client = mqtt.connect(this.config.url, options);
    this.client = client;
    client.on("connect", () => this.onConnect());
    let lastError = "";
    client.on("error", (error) => {
      // A broker that stays down repeats the same error every retry: log it once, not every 2 s.
      if (error.message !== lastError) this.log.warn({ error: error.message }, "MQTT error");
      lastError = error.message;
    });
    client.on("offline", () =>
      this.log.warn({ url: this.config.url }, "MQTT broker unreachable; retrying every 2 s"),
    );
    client.on("connect", () => {
      lastError = "";
    });
  }

  publish(message: FleetPublish): void {
    // A health report still being measured when the agent stops arrives after the goodbye: drop it
    // rather than publish behind `offline` or warn about a connection that is closing on purpose.
    if (this.stopping) return;
    const client = this.client;
    if (!client?.connected) {
      this.keepForLater(message);
      return;
    }
    this.send(client, message.topic, message.payload, message.retain);
  }

  /**
   * Marks the device offline on purpose (distinct from `lost`) and closes the connection. Bounded: a broker
   * that froze or a half-open connection never acknowledges, and the agent must still be able to stop.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    const client = this.client;
    if (!client) return;
    const offline: PresencePayload = { state: "offline", at: new Date().toISOString() };
    const saidGoodbye =
      client.connected &&
      (await settlesWithin(
        client.publishAsync(deviceTopic(this.deviceId, "status"), JSON.stringify(offline), {
          qos: 1,
          retain: true,
        }),
        GOODBYE_TIMEOUT_MS,
      ));
    // A polite end waits for every message in flight to be acknowledged, then sends DISCONNECT (so the
    // broker does not publish the Last Will). Without an answering broker, drop the connection instead.
    if (saidGoodbye && (await settlesWithin(client.endAsync(), GOODBYE_TIMEOUT_MS))) return;
    if (client.connected) this.log.warn("broker did not acknowledge the goodbye; closing the connection");
    client.stream?.destroy();
    await client.endAsync(true);
  }

  private onConnect(): void {
    const client = this.client;
    if (!client) return;
    this.log.info({ url: this.config.url }, "MQTT connected");
    const online: PresencePayload = {
      state: "online",
      at: new Date().toISOString(),
      agentVersion: this.agentVersion,
    };
    this.send(client, "status", online, true);
    for (const [topic, payload] of this.latestRetained) this.send(client, topic, payload, true);
    this.latestRetained.clear();
    for (const payload of this.queuedEvents) this.send(client, "events", payload, false);
    this.queuedEvents = [];
  }

  private keepForLater(message: FleetPublish): void {
    if (message.retain) {
      this.latestRetained.set(message.topic, message.payload);
      return;
    }
    this.queuedEvents.push(message.payload);
    if (this.queuedEvents.length > MAX_QUEUED_EVENTS) this.queuedEvents.shift();
  }

  private send(client: MqttClient, topic: TopicName, payload: unknown, retain: boolean): void {
    client.publish(
      deviceTopic(this.deviceId, topic),
      JSON.stringify(payload),
      { qos: 1, retain },
      (error) => {
        if (error) this.log.warn({ topic, error: error.message }, "MQTT publish failed");
      },
    );
  }
}

/** True when the promise fulfils within `ms`; false when it rejects or takes longer. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => false,
      ),
      expired,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
