/** The live channel's messages (docs/live-protocol.md) and their decoding. */
import { decode } from '@msgpack/msgpack';
import type { DetectorInfo, RoiSumsMessage } from './roisums';

export type Doc = Record<string, any>;

export interface Summary {
  uid: string;
  scan_id: number | null;
  plan_name: string | null;
  time_start: number;
  time_stop: number | null;
  duration: number | null;
  status: string;
  exit_status: string | null;
  reason: string | null;
  num_points: number | null;
  events: number;
  progress: number | null;
  start: Doc;
}

export interface Layout {
  kind: 'grid' | 'scatter' | 'line';
  grid?: { shape: [number, number]; extents: [[number, number], [number, number]] | null; snaking: [boolean, boolean]; motors: string[] };
  axes?: string[];
}

export interface DescriptorInfo {
  uid: string;
  name: string;
  hints: Record<string, { fields?: string[] }>;
  data_keys: Record<string, { dtype?: string; shape?: number[]; units?: string; source?: string; external?: string }>;
}

export interface RunInfoMsg {
  start: Doc | null;
  stop: Doc | null;
  layout: Layout;
  descriptors: DescriptorInfo[];
}

export type Message =
  | { t: 'hello'; version: string; server_time: number }
  | { t: 'error'; code: number; detail: string }
  | { t: 'runs'; reset: boolean; runs: Summary[] }
  | { t: 'snapshot'; uid: string; last_id: number; summary: Summary | null; stages: Record<string, any>; server_time: number }
  | ({ t: 'run' } & RunInfoMsg)
  | { t: 'streams'; streams: Record<string, { fields: string[]; rows: number }> }
  | { t: 'rows'; stream: string; start: number; n: number; seq_num: Int32Array; time: Float64Array; cols: Record<string, Float64Array>; ti: number }
  | { t: 'cells'; stream: string; start: number; n: number; idx: Int32Array }
  | { t: 'docs'; items: { n: number; name: string; doc: Doc }[]; skipped: number }
  | { t: 'summary'; summary: Summary }
  | { t: 'detectors'; detectors: Record<string, DetectorInfo> }
  | RoiSumsMessage
  | { t: string; [k: string]: any };

/** Little-endian bytes -> typed array (copied: msgpack bin views are not aligned). */
export function f64(b: Uint8Array): Float64Array {
  const copy = b.slice();
  return new Float64Array(copy.buffer, copy.byteOffset, copy.byteLength / 8);
}
export function i32(b: Uint8Array): Int32Array {
  const copy = b.slice();
  return new Int32Array(copy.buffer, copy.byteOffset, copy.byteLength / 4);
}

/** A `roisums` body (live message or snapshot stage): bins -> typed arrays, in place. */
function decodeRoiSums(m: any): void {
  if (m.seq instanceof Uint8Array) m.seq = i32(m.seq);
  const values: Record<string, Float64Array> = {};
  for (const [k, v] of Object.entries((m.values ?? {}) as Record<string, Uint8Array | Float64Array>)) values[k] = v instanceof Uint8Array ? f64(v) : v;
  m.values = values;
}

export function decodeMessage(data: ArrayBuffer | Uint8Array): Message {
  const m = decode(data) as any;
  if (m && m.t === 'rows') {
    m.seq_num = i32(m.seq_num);
    m.time = f64(m.time);
    const cols: Record<string, Float64Array> = {};
    for (const [k, v] of Object.entries(m.cols as Record<string, Uint8Array>)) cols[k] = f64(v);
    m.cols = cols;
  } else if (m && m.t === 'cells') {
    m.idx = i32(m.idx);
  } else if (m && m.t === 'roisums') {
    decodeRoiSums(m);
  } else if (m && m.t === 'snapshot') {
    for (const body of Object.values(m.stages?.rois?.fields ?? {})) if (body) decodeRoiSums(body);
  }
  return m as Message;
}
