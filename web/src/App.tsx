import { useEffect, useState } from 'react';
import RunsList from './components/RunsList';
import RunView from './components/RunView';
import { LiveSocket, type ConnState } from './lib/live';
import type { Summary } from './lib/protocol';

const DEMO_KINDS = ['snake_grid', 'grid', 'line', 'spiral', 'ophyd_v1'];

/** "Launch demo scan", shown when the server runs in demo mode (GET /api/v1/health -> demo: true). */
function DemoLauncher() {
  const [demo, setDemo] = useState(false);
  const [kind, setKind] = useState(DEMO_KINDS[0]);
  const [note, setNote] = useState<{ text: string; error: boolean } | null>(null);
  useEffect(() => {
    let gone = false;
    fetch('/api/v1/health')
      .then((r) => (r.ok ? r.json() : null))
      .then((h) => !gone && setDemo(!!h?.demo))
      .catch(() => undefined);
    return () => {
      gone = true;
    };
  }, []);
  useEffect(() => {
    if (!note) return;
    const t = setTimeout(() => setNote(null), 6000);
    return () => clearTimeout(t);
  }, [note]);
  if (!demo) return null;
  const launch = async () => {
    try {
      const r = await fetch('/api/v1/demo/scans', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ kind }) });
      const body = await r.json().catch(() => ({}));
      if (!r.ok) throw new Error(typeof body.detail === 'string' ? body.detail : `HTTP ${r.status}`);
      setNote({ text: `queued ${body.queued ?? kind}`, error: false });
    } catch (e) {
      setNote({ text: `demo scan not started: ${(e as Error).message}`, error: true });
    }
  };
  return (
    <span className="demo-launcher">
      <select value={kind} onChange={(e) => setKind(e.target.value)} data-testid="demo-kind" aria-label="demo scan kind">
        {DEMO_KINDS.map((k) => <option key={k} value={k}>{k}</option>)}
      </select>
      <button onClick={launch} data-testid="launch-demo">Launch demo scan</button>
      {note && <span className={note.error ? 'demo-note error-note' : 'demo-note'} data-testid="demo-note" role="status">{note.text}</span>}
    </span>
  );
}

function route(): { run: string | null } {
  const m = location.hash.match(/^#\/runs\/([^/?]+)/);
  return { run: m ? decodeURIComponent(m[1]) : null };
}

type RunsListener = (runs: Summary[], reset: boolean) => void;
const listeners = new Set<RunsListener>();
export function onRunsChanged(fn: RunsListener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export default function App() {
  const [{ run }, setRoute] = useState(route());
  const [follow, setFollow] = useState(() => localStorage.getItem('beamwatch.follow') !== 'off');
  const [conn, setConn] = useState<ConnState>('connecting');

  useEffect(() => {
    const h = () => setRoute(route());
    window.addEventListener('hashchange', h);
    return () => window.removeEventListener('hashchange', h);
  }, []);

  useEffect(() => {
    localStorage.setItem('beamwatch.follow', follow ? 'on' : 'off');
  }, [follow]);

  // runs channel: list updates and follow mode
  useEffect(() => {
    const seen = new Set<string>();
    const openedAt = Date.now() / 1000 - 2;
    const sock = new LiveSocket('/api/v1/live/runs', (m) => {
      if (m.t !== 'runs') return;
      const runs = (m as any).runs as Summary[];
      for (const fn of listeners) fn(runs, (m as any).reset);
      // a run never seen before that started after this page opened (a fast scan may already be over)
      const fresh = runs
        .filter((r) => !seen.has(r.uid) && (r.status === 'running' || r.time_start >= openedAt))
        .sort((a, b) => b.time_start - a.time_start);
      runs.forEach((r) => seen.add(r.uid));
      if (fresh.length && localStorage.getItem('beamwatch.follow') !== 'off') {
        location.hash = `#/runs/${fresh[0].uid}`;
      }
    }, (s) => setConn(s));
    return () => sock.close();
  }, []);

  return (
    <div className="app">
      <header className="topbar">
        <a href="#/" className="brand">beamwatch</a>
        <nav>
          <a href="#/" className={run ? '' : 'active'}>Runs</a>
        </nav>
        <span className="spacer" />
        <DemoLauncher />
        <label className="follow" title="Jump to the newest run when one starts">
          <input type="checkbox" data-testid="follow" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow newest run
        </label>
        <span className={`conn conn-${conn}`} data-testid="runs-conn" title="live updates">{conn === 'open' ? 'live' : conn}</span>
      </header>
      <main>{run ? <RunView key={run} ident={run} /> : <RunsList />}</main>
    </div>
  );
}
