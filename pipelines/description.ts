/**
 * A pipeline as data: elements and their properties, caps and their fields. Built by the pipeline
 * builders, checked against an allowlist, then written out in gst-launch syntax with every value quoted
 * where it needs it, so that nothing from a configuration can end an element and start another.
 */

/** A fraction such as a frame rate (`30/1`). */
export interface Fraction {
  numerator: number;
  denominator: number;
}

export type PropertyValue = string | number | boolean | Fraction;

export interface ElementNode {
  kind: "element";
  factory: string;
  name?: string;
  properties: Readonly<Record<string, PropertyValue>>;
}

export interface CapsNode {
  kind: "caps";
  /** `video/x-raw`, `image/jpeg`, `video/x-h264`, `audio/x-raw`… */
  media: string;
  /** A caps feature such as `memory:VAMemory`, or none for system memory. */
  feature?: string;
  fields: Readonly<Record<string, PropertyValue>>;
}

export type PipelineNode = ElementNode | CapsNode;

/** One linear chain; a pipeline may hold several that run side by side (video and audio). */
export type Chain = readonly PipelineNode[];

export interface PipelineDescription {
  chains: readonly Chain[];
}

/** The entries that have a value: an optional setting left out is not written at all. */
function defined(values: Record<string, PropertyValue | undefined>): Record<string, PropertyValue> {
  return Object.fromEntries(
    Object.entries(values).filter((entry): entry is [string, PropertyValue] => entry[1] !== undefined),
  );
}

export function element(
  factory: string,
  properties: Record<string, PropertyValue | undefined> = {},
  name?: string,
): ElementNode {
  return name === undefined
    ? { kind: "element", factory, properties: defined(properties) }
    : { kind: "element", factory, name, properties: defined(properties) };
}

export function caps(
  media: string,
  fields: Record<string, PropertyValue | undefined> = {},
  feature?: string,
): CapsNode {
  return feature === undefined
    ? { kind: "caps", media, fields: defined(fields) }
    : { kind: "caps", media, feature, fields: defined(fields) };
}

export function fraction(numerator: number, denominator = 1): Fraction {
  return { numerator, denominator };
}

/**
 * A frame rate as GStreamer's fraction: whole rates over 1, the NTSC family (29.97, 59.94, 23.976) over
 * 1001 as devices advertise them, anything else (7.5) in lowest terms.
 */
export function frameRate(fps: number): Fraction {
  if (Number.isInteger(fps)) return fraction(fps);
  const ntsc = Math.round((fps * 1001) / 1000);
  if (Math.abs((ntsc * 1000) / 1001 - fps) < 0.005) return fraction(ntsc * 1000, 1001);
  const numerator = Math.round(fps * 1000);
  const divisor = greatestCommonDivisor(numerator, 1000);
  return fraction(numerator / divisor, 1000 / divisor);
}

function greatestCommonDivisor(a: number, b: number): number {
  return b === 0 ? a : greatestCommonDivisor(b, a % b);
}

/** GStreamer's own syntax for a caps value, e.g. `(string)4`, `30/1`, `1280`. */
export function capsValue(value: PropertyValue): string {
  if (typeof value === "object") return `${value.numerator}/${value.denominator}`;
  if (typeof value === "string") return `(string)${value}`;
  return String(value);
}

/** The caps as a caps string, e.g. `video/x-raw,width=1280,height=720,framerate=30/1`. */
export function capsString(node: CapsNode): string {
  const media = node.feature === undefined ? node.media : `${node.media}(${node.feature})`;
  const fields = Object.entries(node.fields).map(([field, value]) => `${field}=${capsValue(value)}`);
  return [media, ...fields].join(",");
}
