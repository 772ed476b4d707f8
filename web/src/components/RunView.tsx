import { useEffect, useMemo, useRef, useState } from 'react';
import { LoadMeter, RenderCoalescer } from '../lib/coalesce';
import { DataBus, DataBusContext } from '../lib/databus';
import { duration, localTime, USER_MD_SKIP, utcTime } from '../lib/format';
import { LiveSocket, type ConnState } from '../lib/live';
import { defaultX, defaultY, progress } from '../lib/plotdefaults';
import { RunState } from '../lib/runstate';
import { recordPaint, recordRoiSums, stats } from '../stats';
import { StatusBadge } from './RunsList';
import { LinePanels, MapPanel, ScatterPanel } from './Plots';
import DocLog from './DocLog';
import { ImagePanels } from './ImageView';
import { RoiSumPanels } from './RoiMaps';

function useRun(ident: string) {
  const stateRef = useRef<RunState>(new RunState());
  const [, setTick] = useState(0);
  const [conn, setConn] = useState<{ s: ConnState; detail?: string }>({ s: 'connecting' });
  const bus = useMemo(() => new DataBus(), []);
  const load = useMemo(() => new LoadMeter(), []);
  useEffect(() => load.observe(), [load]);

  useEffect(() => {
    // one render per animation frame; when the run has detector images and the tab is busy, renders of
    // the whole view are spaced out so the image panel (which updates on its own) gets the main thread
    const coalescer = new RenderCoalescer(() => setTick((t) => t + 1), (cb) => requestAnimationFrame(cb),
      () => (stateRef.current.hasDetectors() ? load.interval() : 0));
    const sock = new LiveSocket(
      `/api/v1/live/runs/${encodeURIComponent(ident)}`,
      (m, fresh) => {
        if (fresh && m.t === 'snapshot') {
          stateRef.current = new RunState(); // reconnect: start over from the new snapshot
          stats.snapshots++;
        }
        stateRef.current.apply(m);
        if (m.t === 'roisums') recordRoiSums((m as any).field, (m as any).seq);
        stats.messages++;
        bus.emit(stateRef.current);
        coalescer.request();
      },
      (s, detail) => {
        setConn({ s, detail });
        stats.connection = s;
      },
    );
    return () => sock.close();
  }, [ident, bus, load]);
  return { st: stateRef.current, conn, bus };
}

export default function RunView({ ident }: { ident: string }) {
  const { st, conn, bus } = useRun(ident);
  const [now, setNow] = useState(Date.now() / 1000);
  const running = !!st.start && !st.stop;
  useEffect(() => {
    if (!running) return;
    const t = setInterval(() => setNow(Date.now() / 1000), 1000);
    return () => clearInterval(t);
  }, [running]);

  // after each committed render with new data, record the paint on the next frame
  const version = st.version;
  useEffect(() => {
    stats.run = st.uid || null;
    stats.rows = st.primary.rows;
    const ingest = st.lastIngest;
    const times = st.primary.get('time');
    const evTime = times && times.length ? times[times.length - 1] : 0;
    requestAnimationFrame(() => recordPaint(ingest, evTime));
  }, [version]);

  if (st.error) {
    return <div className="error big" role="alert" data-testid="run-error">Cannot show run {ident}: {st.error} <a href="#/">back to the runs</a></div>;
  }
  if (!st.start) {
    return <div className="loading">Loading run {ident}… <ConnBadge conn={conn} /></div>;
  }
  const s = st.start;
  const summary = st.summary;
  const status = st.stop ? st.stop.exit_status : summary?.status ?? 'running';
  const t0 = s.time as number;
  const tEnd = st.stop ? (st.stop.time as number) : now;
  const events = st.primary.rows;
  const numPoints = s.num_points as number | undefined;
  const pr = progress(events, numPoints, tEnd - t0);
  const userMd = Object.entries(s).filter(([k]) => !USER_MD_SKIP.has(k));

  return (
    <section className="run" data-testid="run-view" data-uid={st.uid}>
      <div className="run-header">
        <div className="title">
          <h1>
            <span data-testid="scan-id">Scan {s.scan_id ?? '—'}</span> · <span data-testid="plan-name">{s.plan_name ?? 'unknown plan'}</span>
          </h1>
          <StatusBadge s={{ ...(summary ?? ({} as any)), status: status ?? 'running', reason: st.stop?.reason || summary?.reason || null }} />
          <ConnBadge conn={conn} />
        </div>
        <dl className="meta">
          <dt>uid</dt><dd className="mono" data-testid="uid">{st.uid}</dd>
          <dt>started</dt><dd title={utcTime(t0)} data-testid="start-time">{localTime(t0)}</dd>
          <dt>duration</dt><dd>{duration(tEnd - t0)}{st.stop ? '' : ' (running)'}</dd>
          <dt>status</dt><dd data-testid="status">{status}{st.stop?.reason ? ` — ${st.stop.reason}` : ''}</dd>
          {userMd.map(([k, v]) => (
            <FragmentKV key={k} k={k} v={v} />
          ))}
        </dl>
        <div className="progress-row">
          {pr.fraction != null ? (
            <>
              <progress data-testid="progress" value={pr.fraction} max={1} />
              <span data-testid="progress-text">{events} / {numPoints} points ({Math.round(pr.fraction * 100)}%)</span>
              {!st.stop && pr.eta != null && <span className="eta">ETA {duration(pr.eta)}</span>}
            </>
          ) : (
            <span data-testid="progress-text">{events} points</span>
          )}
        </div>
      </div>
      <DataBusContext.Provider value={bus}>
        <RunPlots st={st} />
      </DataBusContext.Provider>
      <DocLog st={st} />
    </section>
  );
}

function FragmentKV({ k, v }: { k: string; v: unknown }) {
  const text = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return (
    <>
      <dt>{k}</dt>
      <dd title={text}>{text.length > 80 ? text.slice(0, 77) + '…' : text}</dd>
    </>
  );
}

function ConnBadge({ conn }: { conn: { s: ConnState; detail?: string } }) {
  const label = conn.s === 'open' ? 'live' : conn.s === 'closed' ? `disconnected — ${conn.detail ?? ''}` : conn.s;
  return <span className={`conn conn-${conn.s}`} data-testid="run-conn">{label}</span>;
}

function RunPlots({ st }: { st: RunState }) {
  const fields = st.fieldsOf('primary');
  const defaults = useMemo(
    () => ({ x: defaultX(st.start, fields), ys: defaultY(st.start, st.descriptors, fields) }),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [st.start, st.descriptors, fields.join(',')],
  );
  const layout = st.layout;
  return (
    <div className="plots">
      <ImagePanels st={st} />
      <RoiSumPanels st={st} defaultX={defaults.x} />
      {layout.kind === 'grid' && layout.grid && <MapPanel st={st} grid={layout.grid} defaultField={defaults.ys[0] ?? fields[0]} />}
      {layout.kind === 'scatter' && layout.axes && <ScatterPanel st={st} axes={layout.axes} defaultField={defaults.ys[0] ?? fields[0]} />}
      <LinePanels st={st} fields={fields} defaultX={defaults.x} defaultYs={defaults.ys} />
    </div>
  );
}
