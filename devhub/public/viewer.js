// The dev hub's receiving peer: answers the agent's WHIP offer (relayed over SSE) and shows the video,
// receive statistics and the device's MQTT health. `window.spokeViewer` exposes the figures for tests.
const video = document.getElementById("video");
const statsList = document.getElementById("stats");
const healthList = document.getElementById("health");
const liveBadge = document.getElementById("live");

const viewer = { sessions: 0, stats: null, fleet: {} };
window.spokeViewer = viewer;

const peers = new Map();

function render(list, rows) {
  list.replaceChildren(
    ...rows.flatMap(([name, value, bad]) => {
      const dt = document.createElement("dt");
      dt.textContent = name;
      const dd = document.createElement("dd");
      dd.textContent = value;
      if (bad) dd.className = "bad";
      return [dt, dd];
    }),
  );
}

const hint = document.getElementById("hint");

function setLive(on, text) {
  liveBadge.textContent = text;
  liveBadge.classList.toggle("on", on);
  hint.textContent = on
    ? "Press the session button again to end the session."
    : "Press the session button (Enter in the demo terminal) to go live.";
}

async function gatheringComplete(pc) {
  if (pc.iceGatheringState === "complete") return;
  await new Promise((resolve) => {
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") resolve();
    });
  });
}

async function answer({ id, sdp }) {
  const pc = new RTCPeerConnection();
  peers.set(id, pc);
  viewer.sessions += 1;
  pc.ontrack = (event) => {
    video.srcObject = event.streams[0] ?? new MediaStream([event.track]);
  };
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === "connected") setLive(true, "LIVE");
    if (pc.connectionState === "failed") setLive(false, "CONNECTION FAILED");
  };
  await pc.setRemoteDescription({ type: "offer", sdp });
  await pc.setLocalDescription(await pc.createAnswer());
  // WHIP has no trickle from hub to client: the answer carries every candidate.
  await gatheringComplete(pc);
  await fetch(`/answers/${id}`, {
    method: "POST",
    headers: { "content-type": "application/sdp" },
    body: pc.localDescription.sdp,
  });
}

function end({ id }) {
  peers.get(id)?.close();
  peers.delete(id);
  if (peers.size === 0) {
    video.srcObject = null;
    setLive(false, "ENDED");
  }
}

let previous = null;
async function sampleStats() {
  const pc = [...peers.values()].at(-1);
  if (!pc) return;
  const report = await pc.getStats();
  for (const stat of report.values()) {
    if (stat.type !== "inbound-rtp" || stat.kind !== "video") continue;
    const codec = stat.codecId ? report.get(stat.codecId) : undefined;
    const kbps = previous
      ? ((stat.bytesReceived - previous.bytesReceived) * 8) / (stat.timestamp - previous.timestamp)
      : 0;
    previous = stat;
    viewer.stats = {
      framesDecoded: stat.framesDecoded ?? 0,
      frameWidth: stat.frameWidth ?? 0,
      frameHeight: stat.frameHeight ?? 0,
      framesPerSecond: stat.framesPerSecond ?? 0,
      packetsLost: stat.packetsLost ?? 0,
      kbps: Math.round(kbps),
      codec: codec?.mimeType ?? "",
      pliCount: stat.pliCount ?? 0,
    };
    const s = viewer.stats;
    render(statsList, [
      ["resolution", `${s.frameWidth}×${s.frameHeight}`],
      ["frame rate", `${s.framesPerSecond} fps`],
      ["frames decoded", String(s.framesDecoded)],
      ["bitrate", `${s.kbps} kbit/s`],
      ["packets lost", String(s.packetsLost), s.packetsLost > 0],
      ["keyframe requests", String(s.pliCount)],
      ["codec", s.codec],
    ]);
  }
}

function showFleet({ topic, payload }) {
  viewer.fleet[topic.split("/").pop()] = payload;
  const { status, session, health } = viewer.fleet;
  const rows = [
    ["device", health?.deviceId ?? topic.split("/")[2]],
    ["status", status?.state ?? "unknown", status?.state !== "online"],
    ["session", session?.state ?? "unknown", session?.state === "error"],
  ];
  if (session?.error) rows.push(["error", `${session.error.code}: ${session.error.message}`, true]);
  if (health) {
    rows.push(["overall", health.overall, health.overall !== "ok"]);
    rows.push(["CPU", `${health.system.cpuLoadPercent} %`]);
    rows.push(["memory", `${health.system.memoryUsedPercent} %`]);
    rows.push([
      "temperature",
      health.system.cpuTemperatureC === null ? "n/a" : `${health.system.cpuTemperatureC} °C`,
    ]);
    for (const feed of health.feeds) {
      const cost = feed.workerCpuPercent === undefined ? "" : `, worker ${feed.workerCpuPercent} % CPU`;
      const unhealthy = feed.state !== "running" && feed.state !== "stopped";
      rows.push([`feed ${feed.id}`, `${feed.state}, ${feed.restarts} restarts${cost}`, unhealthy]);
    }
    rows.push(["reported", new Date(health.at).toLocaleTimeString()]);
  }
  render(healthList, rows);
}

const events = new EventSource("/events");
events.addEventListener("offer", (event) => {
  answer(JSON.parse(event.data)).catch((error) => setLive(false, `ERROR: ${error.message}`));
});
events.addEventListener("end", (event) => end(JSON.parse(event.data)));
events.addEventListener("fleet", (event) => showFleet(JSON.parse(event.data)));
setInterval(() => {
  sampleStats().catch(() => {});
}, 1000);
