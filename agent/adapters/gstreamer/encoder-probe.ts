import { execFile } from "node:child_process";
import type { EncoderReport } from "../../core/devices/report.js";

/**
 * PLACEHOLDER for the encoder probe being built separately: it only checks that each H.264 encoder
 * element is installed (`gst-inspect-1.0 --exists`) and marks every answer `proven: false`. The real
 * probe replaces this file and keeps `probeEncoders(): Promise<EncoderReport[]>`.
 */

const CANDIDATES: readonly Omit<EncoderReport, "usable">[] = [
  { id: "x264", element: "x264enc", hardware: false },
  { id: "openh264", element: "openh264enc", hardware: false },
  { id: "v4l2", element: "v4l2h264enc", hardware: true },
  { id: "va", element: "vah264enc", hardware: true },
  { id: "vaapi", element: "vaapih264enc", hardware: true },
  { id: "qsv", element: "qsvh264enc", hardware: true },
  { id: "nvenc", element: "nvh264enc", hardware: true },
  { id: "nvv4l2", element: "nvv4l2h264enc", hardware: true },
];

type Exists = "yes" | "no" | "no-gst-inspect";

function exists(element: string): Promise<Exists> {
  return new Promise((resolve) => {
    execFile("gst-inspect-1.0", ["--exists", element], { timeout: 10_000 }, (error) => {
      if (!error) resolve("yes");
      else resolve((error as NodeJS.ErrnoException).code === "ENOENT" ? "no-gst-inspect" : "no");
    });
  });
}

export async function probeEncoders(): Promise<EncoderReport[]> {
  return Promise.all(
    CANDIDATES.map(async (candidate): Promise<EncoderReport> => {
      const found = await exists(candidate.element);
      const reason =
        found === "yes"
          ? "element installed; no test encode yet"
          : found === "no"
            ? "element not installed"
            : "gst-inspect-1.0 not found";
      return { ...candidate, usable: found === "yes", reason, proven: false };
    }),
  );
}
