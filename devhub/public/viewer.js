// The dev hub's receiving peer: answers each of the agent's WHIP offers (relayed over SSE), one tile per
// feed with its video, sound and receive statistics, and the device's MQTT health beside them.
// `window.spokeViewer` exposes the figures for tests: `feeds[stream]` per feed, `stats` for the latest.
const tiles = document.getElementById("tiles");
const healthList = document.getElementById("health");
const liveBadge = document.getElementById("live");
const hint = document.getElementById("hint");

const viewer = { sessions: 0, stats: null, feeds: {}, fleet: {} };
window.spokeViewer = viewer;

/** Per stream: its tile's elements, the current peer and session id, and the last stats sample. */
const feeds = new Map();

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

function setLive(on, text) {
  liveBadge.textContent = text;
  liveBadge.classList.toggle("on", on);
  hint.textContent = on
    ? "Press the session button again to end the session."
    : "Press the session button (Enter in the demo terminal) to go live.";
}

/** The tile of a feed, made on its first offer. Browsers play sound only after a click: the button. */
function tileFor(stream) {
  const existing = feeds.get(stream);
  if (existing) return existing;
  const section = document.createElement("section");
  section.className = "tile";
  section.dataset.feed = stream;
  const title = document.createElement("h2");
  title.textContent = stream;
  const video = document.createElement("video");
  video.autoplay = true;
  video.muted = true;
  video.playsInline = true;
  const sound = document.createElement("button");
  sound.type = "button";
  sound.className = "sound";
  sound.textContent = "🔇 sound";
  sound.hidden = true;
  sound.addEventListener("click", () => {
    video.muted = !video.muted;
    sound.textContent = video.muted ? "🔇 sound" : "🔊 sound on";
    video.play().catch(() => {});
  });
  const bar = document.createElement("div");
  bar.className = "bar";
  bar.append(title, sound);
  const stats = document.createElement("dl");
  section.append(bar, video, stats);
  tiles.append(section);
  const feed = { stream, section, video, sound, stats, pc: null, id: null, previous: {} };
  feeds.set(stream, feed);
  return feed;
}

async function gatheringComplete(pc) {
  if (pc.iceGatheringState === "complete") return;
  await new Promise((resolve) => {
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") resolve();
    });
  });
}

function anyConnected() {
  return [...feeds.values()].some((feed) => feed.pc?.connectionState === "connected");
}

async function answer({ id, stream, sdp }) {
  const feed = tileFor(stream);
  feed.pc?.close();
  const pc = new RTCPeerConnection();
  feed.pc = pc;
  feed.id = id;
  feed.previous = {};
  viewer.sessions += 1;
  const media = new MediaStream();
  feed.video.srcObject = media;
  pc.ontrack = (event) => {
    media.addTrack(event.track);
    if (event.track.kind === "audio") feed.sound.hidden = false;
  };
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === "connected") setLive(true, "LIVE");
    if (pc.connectionState === "failed" && !anyConnected()) setLive(false, "CONNECTION FAILED");
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
  for (const feed of feeds.values()) {
    if (feed.id !== id) continue;
    feed.pc?.close();
    feed.pc = null;
    feed.id = null;
    feed.video.srcObject = null;
    feed.sound.hidden = true;
  }
  if (![...feeds.values()].some((feed) => feed.pc)) setLive(false, "ENDED");
}

function kbpsSince(previous, stat) {
  if (!previous) return 0;
  return Math.round(
    ((stat.bytesReceived - previous.bytesReceived) * 8) / (stat.timestamp - previous.timestamp),
  );
}

async function sampleFeed(feed) {
  if (!feed.pc) return;
  const report = await feed.pc.getStats();
  const figures = { video: null, audio: null };
  for (const stat of report.values()) {
    if (stat.type !== "inbound-rtp") continue;
    const codec = stat.codecId ? report.get(stat.codecId) : undefined;
    const kbps = kbpsSince(feed.previous[stat.kind], stat);
    feed.previous[stat.kind] = stat;
    if (stat.kind === "video") {
      figures.video = {
        framesDecoded: stat.framesDecoded ?? 0,
        frameWidth: stat.frameWidth ?? 0,
        frameHeight: stat.frameHeight ?? 0,
        framesPerSecond: stat.framesPerSecond ?? 0,
        packetsLost: stat.packetsLost ?? 0,
        kbps,
        codec: codec?.mimeType ?? "",
        pliCount: stat.pliCount ?? 0,
      };
    } else if (stat.kind === "audio") {
      figures.audio = {
        packetsReceived: stat.packetsReceived ?? 0,
        packetsLost: stat.packetsLost ?? 0,
        totalSamplesReceived: stat.totalSamplesReceived ?? 0,
        concealedSamples: stat.concealedSamples ?? 0,
        audioLevel: stat.audioLevel ?? 0,
        jitterMs: Math.round((stat.jitter ?? 0) * 1000),
        kbps,
        codec: codec?.mimeType ?? "",
      };
    }
  }
  viewer.feeds[feed.stream] = figures;
  if (figures.video) viewer.stats = figures.video;
  const rows = [];
  const v = figures.video;
  if (v) {
    rows.push(
      ["resolution", `${v.frameWidth}×${v.frameHeight}`],
      ["frame rate", `${v.framesPerSecond ?? 0} fps`],
      ["frames decoded", String(v.framesDecoded)],
      ["video bitrate", `${v.kbps} kbit/s`],
      ["packets lost", String(v.packetsLost), v.packetsLost > 0],
      ["keyframe requests", String(v.pliCount)],
      ["codec", v.codec],
    );
  }
  const a = figures.audio;
  if (a) {
    const concealed = a.totalSamplesReceived > 0 ? (100 * a.concealedSamples) / a.totalSamplesReceived : 0;
    rows.push(
      ["audio", `${a.codec}, ${a.kbps} kbit/s`],
      ["audio packets", `${a.packetsReceived} (${a.packetsLost} lost)`, a.packetsLost > 0],
      ["concealed", `${concealed.toFixed(1)} %`, concealed > 5],
      ["audio level", a.audioLevel.toFixed(3)],
    );
  }
  render(feed.stats, rows);
}

function showFleet({ topic, payload }) {
  viewer.fleet[topic.split("/").pop()] = payload;
  const { status, session, health } = viewer.fleet;
  const rows = [
    ["device", health?.deviceId ?? topic.split("/")[2]],
    ["status", status?.state ?? "unknown", status?.state !== "online"],
    ["session", session?.state ?? "unknown", session?.state === "error" || session?.state === "degraded"],
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
      if (feed.mode) {
        const { width, height, framerate } = feed.mode;
        const kind = feed.hardwareEncoder ? "hardware" : "software";
        const rates = feed.framerateOut === undefined ? "" : `, ${feed.framerateIn}→${feed.framerateOut} fps`;
        rows.push([
          `encoder ${feed.id}`,
          `${feed.encoder} (${kind}), ${width}×${height}@${framerate}${rates}`,
        ]);
      }
      if (feed.link) {
        const { state, reconnects } = feed.link;
        rows.push([`hub link ${feed.id}`, `${state}, ${reconnects} reconnects`, state !== "connected"]);
      }
      if (feed.audio) {
        const level = feed.audio.levelDb === undefined ? "" : `, ${feed.audio.levelDb} dBFS`;
        const silent = !feed.audio.flowing && feed.state === "running";
        rows.push([`sound ${feed.id}`, `${feed.audio.flowing ? "flowing" : "none"}${level}`, silent]);
      }
    }
    if (health.media) rows.push(["platform", health.media.platform]);
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
  for (const feed of feeds.values()) sampleFeed(feed).catch(() => {});
}, 1000);
