/** The nearest-rank percentile `p` (0–100) of `sorted` (ascending); NaN for an empty list. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** `p50 … ms, p95 … ms (n=…, max … ms)` of a list of durations in ms, in any order. */
export function durationSummary(times: readonly number[]): string {
  const sorted = [...times].sort((a, b) => a - b);
  return `p50 ${percentile(sorted, 50).toFixed(0)} ms, p95 ${percentile(sorted, 95).toFixed(0)} ms (n=${sorted.length}, max ${sorted.at(-1)?.toFixed(0)} ms)`;
}
