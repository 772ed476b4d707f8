/** Counters the browser tests and the benchmark read (window.__beamwatch). */
export interface Stats {
  run: string | null;
  rows: number;
  mapFilled: number;
  /** 1 per measured cell, row-major [ny, nx] (the live map's mask) */
  mapMeasured: Float32Array | null;
  scatterPoints: number;
  paints: number;
  messages: number;
  /** paint time minus server feed time of the newest rows, ms */
  latencies: number[];
  /** paint time minus the newest event's own timestamp (RunEngine clock), ms */
  eventLatencies: number[];
  connection: string;
  snapshots: number;
  /** detector frames painted: field, seq_num, wall time (ms) one animation frame after the heatmap got it */
  framePaints: { field: string; seq: number; t: number }[];
  /** ROI sums received: field, seq_num, wall time (ms) the message was applied */
  roiSums: { field: string; seq: number; t: number }[];
}

declare global {
  interface Window {
    __beamwatch: Stats;
  }
}

export const stats: Stats = (window.__beamwatch = {
  run: null, rows: 0, mapFilled: 0, mapMeasured: null, scatterPoints: 0, paints: 0, messages: 0, latencies: [], eventLatencies: [], connection: 'idle', snapshots: 0,
  framePaints: [], roiSums: [],
});

function keep<T>(list: T[], item: T): void {
  list.push(item);
  if (list.length > 5000) list.splice(0, 1000);
}

/** Call when a detector frame was handed to the heatmap; recorded on the next animation frame. */
export function recordFramePaint(field: string, seq: number): void {
  requestAnimationFrame(() => keep(stats.framePaints, { field, seq, t: Date.now() }));
}

export function recordRoiSums(field: string, seqs: ArrayLike<number>): void {
  const t = Date.now();
  for (let i = 0; i < seqs.length; i++) keep(stats.roiSums, { field, seq: seqs[i], t });
}

export function recordPaint(ingest: number, eventTime: number): void {
  stats.paints++;
  const now = Date.now();
  if (ingest > 0) keep(stats.latencies, now - ingest * 1000);
  if (eventTime > 0) keep(stats.eventLatencies, now - eventTime * 1000);
}
