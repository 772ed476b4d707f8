/** One run's client-side state, built from the live channel's messages. */
import { StreamColumns } from './columns';
import { CellIndex } from './grid';
import type { DescriptorInfo, Doc, Layout, Message, Summary } from './protocol';
import { RoiSums, type DetectorInfo, type RoiSumsMessage } from './roisums';

export interface LogItem {
  n: number;
  name: string;
  doc: Doc;
}

export class RunState {
  uid = '';
  summary: Summary | null = null;
  start: Doc | null = null;
  stop: Doc | null = null;
  layout: Layout = { kind: 'line' };
  descriptors: DescriptorInfo[] = [];
  streams = new Map<string, StreamColumns>();
  cells = new CellIndex();
  log: LogItem[] = [];
  logSkipped = 0;
  logLimit = 2000;
  version = 0;
  /** wall time (s) the server fed the newest rows; for ingest-to-paint latency */
  lastIngest = 0;
  error: string | null = null;
  /** 2-D detector fields as the server's `rois` stage reports them */
  detectors: Record<string, DetectorInfo> = {};
  roisums = new RoiSums();
  extra = new Map<string, any>(); // messages of stages this client does not know

  stream(name: string): StreamColumns {
    let s = this.streams.get(name);
    if (!s) {
      s = new StreamColumns();
      this.streams.set(name, s);
    }
    return s;
  }

  get primary(): StreamColumns {
    return this.stream('primary');
  }

  apply(m: Message): void {
    switch (m.t) {
      case 'snapshot': {
        const run = m.stages.run;
        this.uid = m.uid;
        this.summary = m.summary ?? null;
        if (run) this.applyRun(run);
        const cols = m.stages.columns;
        if (cols) this.applyStreams(cols.streams);
        const rois = m.stages.rois;
        if (rois?.detectors) this.detectors = { ...rois.detectors };
        for (const body of Object.values((rois?.fields ?? {}) as Record<string, RoiSumsMessage>)) {
          this.roisums.apply({ ...body, reset: true });
        }
        break;
      }
      case 'detectors':
        this.detectors = { ...this.detectors, ...(m as any).detectors };
        break;
      case 'roisums':
        this.roisums.apply(m as RoiSumsMessage);
        break;
      case 'run':
        this.applyRun(m as any);
        break;
      case 'streams':
        this.applyStreams((m as any).streams);
        break;
      case 'rows': {
        const r = m as Extract<Message, { t: 'rows' }>;
        const s = this.stream(r.stream);
        s.append(r.start, r.n, { seq_num: r.seq_num, time: r.time, ...r.cols });
        this.lastIngest = r.ti;
        break;
      }
      case 'cells': {
        const c = m as Extract<Message, { t: 'cells' }>;
        this.cells.set(c.start, c.idx);
        break;
      }
      case 'docs': {
        const d = m as Extract<Message, { t: 'docs' }>;
        this.logSkipped += d.skipped;
        this.log.push(...d.items);
        if (this.log.length > this.logLimit) this.log.splice(0, this.log.length - this.logLimit);
        break;
      }
      case 'summary':
        this.summary = (m as any).summary;
        break;
      case 'error':
        this.error = (m as any).detail;
        break;
      default:
        this.extra.set(m.t, m);
    }
    this.version++;
  }

  private applyRun(run: { start: Doc | null; stop: Doc | null; layout: Layout; descriptors: DescriptorInfo[] }) {
    this.start = run.start;
    this.stop = run.stop;
    this.layout = run.layout;
    this.descriptors = run.descriptors;
    if (this.summary && run.stop) {
      this.summary = {
        ...this.summary,
        status: run.stop.exit_status ?? this.summary.status,
        exit_status: run.stop.exit_status,
        reason: run.stop.reason || null,
        time_stop: run.stop.time,
        duration: run.stop.time - this.summary.time_start,
      };
    }
  }

  private applyStreams(streams: Record<string, { fields: string[] }>) {
    for (const [name, info] of Object.entries(streams)) this.stream(name).fields = info.fields;
  }

  /**
   * Detector fields with frames to show: the server's `detectors`, else the
   * primary descriptors' external data keys with at least two dims > 1.
   */
  detectorFields(): Record<string, DetectorInfo> {
    const out: Record<string, DetectorInfo> = {};
    for (const d of this.descriptors) {
      if (d.name !== 'primary') continue;
      for (const [key, info] of Object.entries(d.data_keys ?? {})) {
        const dims = (info.shape ?? []).filter((n) => n > 1);
        if (info.external && dims.length >= 2 && !(key in out)) out[key] = { stream: 'primary', shape: dims.slice(-2) };
      }
    }
    return { ...out, ...this.detectors };
  }

  /** Does the run have detector images (2-D external data keys)? */
  hasDetectors(): boolean {
    return Object.keys(this.detectorFields()).length > 0;
  }

  /** Numeric fields of a stream with units, for selectors. */
  fieldsOf(stream = 'primary'): string[] {
    return this.streams.get(stream)?.fields ?? [];
  }
}
