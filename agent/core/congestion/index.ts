/** Congestion control for the WebRTC transports, and the sharing of its estimate among a site's feeds. */
export { allocate, type FeedAllocation, type FeedDemand } from "./allocator.js";
export {
  type CongestionController,
  type CongestionControllerOptions,
  type CongestionState,
  createCongestionController,
  DEFAULT_START_KBPS,
} from "./controller.js";
export {
  createOvershootGuard,
  type OvershootGuard,
  type OvershootSample,
} from "./encoder-overshoot.js";
export {
  createFirFilter,
  type Fir,
  type FirEntry,
  type Nack,
  type Pli,
  parseFir,
  parseNack,
  parsePli,
} from "./feedback-requests.js";
export type { BandwidthUsage } from "./overuse-detector.js";
export type { Parsed } from "./result.js";
export {
  compactNtp,
  parseReceiverReport,
  parseRemb,
  parseRtcpCompound,
  type ReceiverReport,
  type Remb,
  type ReportBlock,
  type RtcpMessage,
  roundTripUs,
} from "./rtcp-reports.js";
export { createSendTimeLog, type SendTimeLog, type SentPacket } from "./send-time-log.js";
export {
  createStepHold,
  MAX_STEP_UP_HOLD_MS,
  STEP_UP_HOLD_MS,
  type StepHold,
  type StepSample,
  UNDONE_WITHIN_MS,
} from "./step-hold.js";
export {
  type PacketArrival,
  parseTransportFeedback,
  type TransportFeedback,
  writeTransportFeedback,
} from "./transport-feedback.js";
