/** A minimal valid configuration input (before defaults), to be adjusted by each test. */
export function configInput(overrides: Record<string, unknown> = {}) {
  return {
    deviceId: "test-box",
    feeds: [
      {
        id: "room-camera",
        source: { type: "test" },
        width: 640,
        height: 360,
        whip: { url: "http://127.0.0.1:9/whip/room" },
      },
    ],
    mqtt: { url: "mqtt://127.0.0.1:9" },
    ...overrides,
  };
}
