import { type CapsNode, capsString, type ElementNode, type PipelineDescription } from "./description.js";
import { ENCODER_IDS } from "./encoders.js";

/**
 * The only elements a Spoke pipeline may contain. Media never comes to rest on the box and never goes
 * anywhere but the agent: no file sinks (`filesink`, `multifilesink`, `splitmuxsink`), no network sink but
 * `udpsink` to loopback, no `fdsink`, no shell-outs. A new capture device or encoder adds its elements here.
 */
export const ALLOWED_ELEMENTS: ReadonlySet<string> = new Set([
  // sources
  "videotestsrc",
  "audiotestsrc",
  "v4l2src",
  "libcamerasrc",
  "alsasrc",
  "pulsesrc",
  // raw video
  "videoconvert",
  "videoscale",
  "videorate",
  "capsfilter",
  "queue",
  "clockoverlay",
  "v4l2convert",
  "vapostproc",
  "vaapipostproc",
  "cudaupload",
  "cudaconvert",
  "nvvidconv",
  // MJPEG capture
  "jpegparse",
  "jpegdec",
  "v4l2jpegdec",
  "vajpegdec",
  "nvjpegdec",
  // H.264 encoders
  ...ENCODER_IDS,
  "h264parse",
  "cudascale",
  // audio
  "audioconvert",
  "audioresample",
  "audiorate",
  "level",
  "opusenc",
  // RTP out to the agent, and the encoder probe's sink
  "rtph264pay",
  "rtpopuspay",
  "udpsink",
  "fakesink",
]);

/** A sink takes only these properties: nothing that adds a destination or writes what passes through. */
const SINK_PROPERTIES: Readonly<Record<string, ReadonlySet<string>>> = {
  udpsink: new Set(["host", "port", "sync", "async"]),
  fakesink: new Set(["sync", "async"]),
};

export class PipelineRejected extends Error {
  override readonly name = "PipelineRejected";
}

/** Element factories, element names and property names: GStreamer identifiers, nothing else. */
const IDENTIFIER = /^[a-z][a-z0-9_-]*$/i;
/** Caps media types and features, e.g. `video/x-raw`, `memory:VAMemory`. */
const MEDIA = /^[a-z]+\/[a-z0-9.+-]+$/i;
const FEATURE = /^[a-z]+:[a-z0-9]+$/i;
/** A caps string value: GStreamer caps end at `!` and split at `,`, so only plain tokens. */
const CAPS_TOKEN = /^[A-Za-z0-9_.-]+$/;
/** A property value that needs no quotes. */
const PLAIN_VALUE = /^[A-Za-z0-9_./:+-]+$/;

/** Checks a description against the allowlist and the syntax rules; throws `PipelineRejected`. */
export function validatePipeline(description: PipelineDescription): void {
  if (description.chains.length === 0) throw new PipelineRejected("a pipeline needs at least one chain");
  for (const chain of description.chains) {
    if (chain.length === 0) throw new PipelineRejected("an empty chain");
    for (const node of chain) {
      if (node.kind === "element") validateElement(node);
      else validateCaps(node);
    }
  }
}

function validateElement(node: ElementNode): void {
  if (!ALLOWED_ELEMENTS.has(node.factory)) {
    throw new PipelineRejected(`element "${node.factory}" is not allowed in a Spoke pipeline`);
  }
  if (node.name !== undefined && !IDENTIFIER.test(node.name)) {
    throw new PipelineRejected(`element name "${node.name}" is not an identifier`);
  }
  for (const [property, value] of Object.entries(node.properties)) {
    if (!IDENTIFIER.test(property) || property === "name") {
      throw new PipelineRejected(`"${property}" is not a property name ${node.factory} may be given`);
    }
    if (typeof value === "number" && !Number.isFinite(value)) {
      throw new PipelineRejected(`${node.factory} ${property} must be a finite number`);
    }
  }
  const allowed = SINK_PROPERTIES[node.factory];
  const extra = allowed ? Object.keys(node.properties).filter((property) => !allowed.has(property)) : [];
  if (extra.length > 0) {
    // `clients` would add destinations to udpsink; `dump` would print frames to a log.
    throw new PipelineRejected(`${node.factory} may not be given ${extra.join(", ")}`);
  }
  if (node.factory === "udpsink" && node.properties.host !== "127.0.0.1") {
    // RTP goes to the agent on this box and nowhere else.
    throw new PipelineRejected("udpsink may only send to 127.0.0.1");
  }
}

function validateCaps(node: CapsNode): void {
  if (!MEDIA.test(node.media)) throw new PipelineRejected(`"${node.media}" is not a caps media type`);
  if (node.feature !== undefined && !FEATURE.test(node.feature)) {
    throw new PipelineRejected(`"${node.feature}" is not a caps feature`);
  }
  for (const [field, value] of Object.entries(node.fields)) {
    if (!IDENTIFIER.test(field)) throw new PipelineRejected(`"${field}" is not a caps field`);
    const token = typeof value === "object" ? `${value.numerator}/${value.denominator}` : String(value);
    if (typeof value === "string" && !CAPS_TOKEN.test(value)) {
      throw new PipelineRejected(`caps value "${value}" of ${field} is not a plain token`);
    }
    if (typeof value === "object" && !/^\d+\/\d+$/.test(token)) {
      throw new PipelineRejected(`${field} must be a fraction of whole numbers`);
    }
    if (typeof value === "number" && !Number.isFinite(value)) {
      throw new PipelineRejected(`${field} must be a finite number`);
    }
  }
}

/** A property value in gst-launch syntax: plain tokens as they are, anything else quoted and escaped. */
export function launchValue(value: ElementNode["properties"][string]): string {
  if (typeof value === "object") return `${value.numerator}/${value.denominator}`;
  if (typeof value !== "string") return String(value);
  if (PLAIN_VALUE.test(value)) return value;
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

function elementLaunch(node: ElementNode): string {
  const name = node.name === undefined ? [] : [`name=${node.name}`];
  const properties = Object.entries(node.properties).map(([key, value]) => `${key}=${launchValue(value)}`);
  return [node.factory, ...name, ...properties].join(" ");
}

/**
 * The description in gst-launch syntax, as `gstreamer-superficial`'s Pipeline takes it: each chain's
 * nodes joined by `!`, chains side by side. Validates first: an invalid description never reaches
 * GStreamer.
 */
export function toLaunch(description: PipelineDescription): string {
  validatePipeline(description);
  return description.chains
    .map((chain) =>
      chain.map((node) => (node.kind === "element" ? elementLaunch(node) : capsString(node))).join(" ! "),
    )
    .join("  ");
}
