import { ENCODERS, type EncoderId } from "../../pipelines/encoders.js";
import type { FeedRole } from "../config/schema.js";
import type { Platform } from "./encoder-choice.js";
import { buildLadder, type Keep, type Mode } from "./profiles.js";

/**
 * What a box can encode at once, shared by clinical priority: ultrasound first, then the room camera,
 * then the document camera. Pure: the platform's capacity, the feeds' wishes and the encoders that
 * passed the probe in, a plan or a clear error out.
 *
 * Load is counted in H.264 macroblocks (16×16 pixels) per second, the unit encoders are rated in.
 */

export interface PlatformCapacity {
  /** All hardware encoding together: the Pi 4 has one block, about 1080p30 for every feed. */
  hardwareMbPerSecond: number;
  /** What the CPU encodes with a software encoder next to capture and the agent. */
  softwareMbPerSecond: number;
}

const MB_1080P30 = 8_160 * 30;
const MB_720P30 = 3_600 * 30;

export const PLATFORM_CAPACITY: Readonly<Record<Platform, PlatformCapacity>> = {
  "raspberry-pi-4": { hardwareMbPerSecond: MB_1080P30, softwareMbPerSecond: MB_720P30 },
  "raspberry-pi-5": { hardwareMbPerSecond: 0, softwareMbPerSecond: MB_1080P30 },
  intel: { hardwareMbPerSecond: 8 * MB_1080P30, softwareMbPerSecond: MB_1080P30 },
  nvidia: { hardwareMbPerSecond: 8 * MB_1080P30, softwareMbPerSecond: 2 * MB_1080P30 },
  jetson: { hardwareMbPerSecond: 4 * MB_1080P30, softwareMbPerSecond: MB_720P30 },
  generic: { hardwareMbPerSecond: 4 * MB_1080P30, softwareMbPerSecond: 2 * MB_1080P30 },
};

/** A USB 2 bus can reserve about 80 % of 480 Mbit/s for isochronous video; beyond it UVC says ENOSPC. */
export const USB2_PERIODIC_BYTES_PER_SECOND = 48_000_000;

export interface PlanRequest {
  id: string;
  role: FeedRole;
  keep: Keep;
  /** The mode wanted with a hardware encoder, and with a software one (the camera asks less of a CPU). */
  wanted: { hardware: Mode; software: Mode };
  /** The config set size or frame rate: the plan may not lower them, only refuse. */
  explicit: boolean;
  /** Usable encoders for this feed, in the order to try. */
  encoders: readonly EncoderId[];
  /** For a USB capture: its bus and the bandwidth its chosen format takes. */
  capture?: { usbBus: string; bytesPerSecond: number; usb2: boolean };
}

export interface PlannedFeed {
  id: string;
  role: FeedRole;
  encoder: EncoderId;
  hardware: boolean;
  mode: Mode;
  macroblocksPerSecond: number;
  /** Why the mode is below the wanted one. */
  lowered?: string;
}

export interface CapacityPlan {
  platform: Platform;
  feeds: PlannedFeed[];
  hardware: { usedMbPerSecond: number; capacityMbPerSecond: number };
  software: { usedMbPerSecond: number; capacityMbPerSecond: number };
  warnings: string[];
}

export type PlanOutcome = { ok: true; plan: CapacityPlan } | { ok: false; error: string };

export const ROLE_PRIORITY: Readonly<Record<FeedRole, number>> = { ultrasound: 0, camera: 1, document: 2 };

export function macroblocksPerSecond(mode: Mode): number {
  return Math.ceil(mode.width / 16) * Math.ceil(mode.height / 16) * mode.framerate;
}

const describeMode = (mode: Mode) => `${mode.width}x${mode.height}@${mode.framerate}`;

export function planCapacity(platform: Platform, requests: readonly PlanRequest[]): PlanOutcome {
  const capacity = PLATFORM_CAPACITY[platform];
  const left = { hardware: capacity.hardwareMbPerSecond, software: capacity.softwareMbPerSecond };
  const order = requests
    .map((request, index) => ({ request, index }))
    .sort((a, b) => ROLE_PRIORITY[a.request.role] - ROLE_PRIORITY[b.request.role] || a.index - b.index);
  const planned = new Map<number, PlannedFeed>();
  for (const [position, { request, index }] of order.entries()) {
    if (request.encoders.length === 0) {
      return { ok: false, error: `feeds[${index}] (${request.id}): no usable H.264 encoder for it` };
    }
    // Every feed after this one keeps room for its smallest step: priority decides who gets more, not
    // who gets anything.
    const room = withoutReservations(
      left,
      order.slice(position + 1).map((later) => later.request),
    );
    const placed = place(request, room);
    if (!placed) return { ok: false, error: refusal(request, index, platform, room) };
    left[placed.hardware ? "hardware" : "software"] -= placed.macroblocksPerSecond;
    planned.set(index, placed);
  }
  const feeds = requests.map((_, index) => planned.get(index)).filter((feed) => feed !== undefined);
  return {
    ok: true,
    plan: {
      platform,
      feeds,
      hardware: {
        usedMbPerSecond: capacity.hardwareMbPerSecond - left.hardware,
        capacityMbPerSecond: capacity.hardwareMbPerSecond,
      },
      software: {
        usedMbPerSecond: capacity.softwareMbPerSecond - left.software,
        capacityMbPerSecond: capacity.softwareMbPerSecond,
      },
      warnings: usbWarnings(requests),
    },
  };
}

/** What is left once the smallest step of each later feed is set aside, in software where it fits. */
function withoutReservations(
  left: { hardware: number; software: number },
  later: readonly PlanRequest[],
): { hardware: number; software: number } {
  const room = { ...left };
  for (const request of later) {
    // In software where the feed can be encoded in software (the hardware goes to priority), else in
    // the hardware its encoders need.
    const pools = poolsOf(request);
    const smallest = Math.min(...ladderFor(request, request.wanted.software).map(macroblocksPerSecond));
    if (pools.software && room.software >= smallest) room.software -= smallest;
    else if (pools.hardware && room.hardware >= smallest) room.hardware -= smallest;
  }
  return room;
}

/** Which kinds of encoding a feed's usable encoders offer. */
function poolsOf(request: PlanRequest): { hardware: boolean; software: boolean } {
  const kinds = request.encoders.map((encoder) => ENCODERS[encoder].hardware);
  return { hardware: kinds.includes(true), software: kinds.includes(false) };
}

function ladderFor(request: PlanRequest, wanted: Mode): Mode[] {
  return request.explicit ? [wanted] : buildLadder(wanted, request.keep, 0);
}

/** The first encoder and mode that fit: the wanted mode, then (unless set in the config) lower rungs. */
function place(request: PlanRequest, left: { hardware: number; software: number }): PlannedFeed | undefined {
  for (const encoder of request.encoders) {
    const definition = ENCODERS[encoder];
    const wanted = definition.hardware ? request.wanted.hardware : request.wanted.software;
    const candidates = ladderFor(request, wanted);
    for (const [step, mode] of candidates.entries()) {
      const load = macroblocksPerSecond(mode);
      const room = definition.hardware ? left.hardware : left.software;
      if (mode.width > definition.maxWidth || load > room) continue;
      const fitted: Mode = { width: mode.width, height: mode.height, framerate: mode.framerate };
      const feed: PlannedFeed = {
        id: request.id,
        role: request.role,
        encoder,
        hardware: definition.hardware,
        mode: fitted,
        macroblocksPerSecond: load,
      };
      if (step > 0) {
        feed.lowered = `${describeMode(wanted)} does not fit beside the feeds before it; ${describeMode(fitted)} does`;
      }
      return feed;
    }
  }
  return undefined;
}

function refusal(
  request: PlanRequest,
  index: number,
  platform: Platform,
  left: { hardware: number; software: number },
): string {
  const pools = poolsOf(request);
  const wanted = pools.software ? request.wanted.software : request.wanted.hardware;
  const need = macroblocksPerSecond(wanted);
  // The hint is what fits the room this feed's own encoders have, at its place in the order.
  const room = Math.max(pools.software ? left.software : 0, pools.hardware ? left.hardware : 0);
  const fits = largestFitting(wanted, room);
  const hint = fits ? ` (${describeMode(fits)} would fit)` : "; or remove a feed of lower priority";
  return (
    `feeds[${index}] (${request.id}, ${request.role}): ${describeMode(wanted)} needs ${need} macroblocks/s, ` +
    `and this ${platform} box has ${left.hardware} left on its hardware encoder and ${left.software} in software ` +
    `after the feeds of higher priority: lower feeds[${index}].width/height or feeds[${index}].framerate${hint}`
  );
}

/** The same aspect and frame rate, scaled down until it fits, for the hint in an error. */
function largestFitting(mode: Mode, room: number): Mode | undefined {
  for (let scale = 0.9; scale >= 0.2; scale -= 0.1) {
    const height = Math.floor((mode.height * scale) / 2) * 2;
    const width = Math.floor((mode.width * scale) / 2) * 2;
    const candidate = { width, height, framerate: mode.framerate };
    if (macroblocksPerSecond(candidate) <= room) return candidate;
  }
  return undefined;
}

function usbWarnings(requests: readonly PlanRequest[]): string[] {
  const perBus = new Map<string, { bytes: number; feeds: string[] }>();
  for (const request of requests) {
    if (!request.capture?.usb2) continue;
    const bus = perBus.get(request.capture.usbBus) ?? { bytes: 0, feeds: [] };
    bus.bytes += request.capture.bytesPerSecond;
    bus.feeds.push(request.id);
    perBus.set(request.capture.usbBus, bus);
  }
  return [...perBus.entries()]
    .filter(([, bus]) => bus.bytes > USB2_PERIODIC_BYTES_PER_SECOND)
    .map(
      ([name, bus]) =>
        `USB 2 bus ${name}: ${bus.feeds.join(", ")} together need ${Math.round(bus.bytes / 1e6)} MB/s of ` +
        `${USB2_PERIODIC_BYTES_PER_SECOND / 1e6}; capture may fail with ENOSPC: use MJPEG, lower sizes, or move a device to another bus`,
    );
}
