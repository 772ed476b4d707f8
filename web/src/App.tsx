import { useEffect, useState } from 'react';
import RunsList from './components/RunsList';
import RunView from './components/RunView';
import { LiveSocket, type ConnState } from './lib/live';
import type { Summary } from './lib/protocol';

function route(): { run: string | null } {
  const m = location.hash.match(/^#\/runs\/([^/?]+)/);
  return { run: m ? decodeURIComponent(m[1]) : null };
}

export type RunsListener = (runs: Summary[], reset: boolean) => void;
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
        <label className="follow" title="Jump to the newest run when one starts">
          <input type="checkbox" data-testid="follow" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow newest run
        </label>
        <span className={`conn conn-${conn}`} data-testid="runs-conn" title="live updates">{conn === 'open' ? 'live' : conn}</span>
      </header>
      <main>{run ? <RunView key={run} ident={run} /> : <RunsList />}</main>
    </div>
  );
}
