import { useCallback, useEffect, useRef, useState } from 'react';
import { onRunsChanged } from '../App';
import { duration, localTime, utcTime } from '../lib/format';
import type { Summary } from '../lib/protocol';

const PAGE = 25;

interface Filters {
  plan: string;
  scan: string;
  since: string;
  until: string;
  q: string;
}

function query(f: Filters, offset: number): string {
  const p = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
  if (f.plan) p.set('plan_name', f.plan);
  if (f.scan) p.set('scan_id', f.scan);
  if (f.since) p.set('since', new Date(f.since).toISOString());
  if (f.until) p.set('until', new Date(f.until).toISOString());
  if (f.q) p.set('q', f.q);
  return p.toString();
}

export function StatusBadge({ s }: { s: Summary }) {
  const title = s.reason ? `${s.status}: ${s.reason}` : s.status;
  return <span className={`status status-${s.status}`} title={title}>{s.status === 'running' ? '● running' : s.status}</span>;
}

export default function RunsList() {
  const [filters, setFilters] = useState<Filters>({ plan: '', scan: '', since: '', until: '', q: '' });
  const [draft, setDraft] = useState(filters);
  const [offset, setOffset] = useState(0);
  const [runs, setRuns] = useState<Summary[]>([]);
  const [total, setTotal] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const reloadTimer = useRef<ReturnType<typeof setTimeout> | null>(null);

  const load = useCallback(async () => {
    try {
      const r = await fetch(`/api/v1/runs?${query(filters, offset)}`);
      const body = await r.json();
      if (!r.ok) throw new Error(body.detail ?? `HTTP ${r.status}`);
      setRuns(body.runs);
      setTotal(body.total);
      setError(null);
    } catch (e) {
      setError(`Could not load runs: ${(e as Error).message}`);
    } finally {
      setLoading(false);
    }
  }, [filters, offset]);

  useEffect(() => {
    load();
  }, [load]);

  // live: update known rows in place; a new run (or a reset) reloads the page (debounced)
  useEffect(
    () =>
      onRunsChanged((changed, reset) => {
        let unknown = reset;
        setRuns((cur) => {
          const byUid = new Map(changed.map((r) => [r.uid, r]));
          if (changed.some((r) => !cur.find((c) => c.uid === r.uid))) unknown = true;
          return cur.map((c) => byUid.get(c.uid) ?? c);
        });
        if (unknown && !reloadTimer.current) {
          reloadTimer.current = setTimeout(() => {
            reloadTimer.current = null;
            load();
          }, 300);
        }
      }),
    [load],
  );

  const apply = (e: React.FormEvent) => {
    e.preventDefault();
    setOffset(0);
    setFilters(draft);
  };

  return (
    <section className="runs">
      <form className="filters" onSubmit={apply} data-testid="filters">
        <input placeholder="plan name" value={draft.plan} onChange={(e) => setDraft({ ...draft, plan: e.target.value })} data-testid="f-plan" />
        <input placeholder="scan id" inputMode="numeric" value={draft.scan} onChange={(e) => setDraft({ ...draft, scan: e.target.value.replace(/\D/g, '') })} data-testid="f-scan" />
        <label>from <input type="datetime-local" value={draft.since} onChange={(e) => setDraft({ ...draft, since: e.target.value })} /></label>
        <label>to <input type="datetime-local" value={draft.until} onChange={(e) => setDraft({ ...draft, until: e.target.value })} /></label>
        <input placeholder="search metadata (sample, user, ...)" className="q" value={draft.q} onChange={(e) => setDraft({ ...draft, q: e.target.value })} data-testid="f-q" />
        <button type="submit">Filter</button>
        <button type="button" onClick={() => { const empty = { plan: '', scan: '', since: '', until: '', q: '' }; setDraft(empty); setFilters(empty); setOffset(0); }}>Clear</button>
      </form>
      {error && <div className="error" role="alert">{error}</div>}
      <table className="runs-table" data-testid="runs-table">
        <thead>
          <tr><th>Status</th><th>Scan</th><th>Plan</th><th>Sample</th><th>Started</th><th>Duration</th><th>Progress</th><th>uid</th></tr>
        </thead>
        <tbody>
          {runs.map((r) => (
            <tr key={r.uid} className={r.status === 'running' ? 'live' : ''} data-testid="run-row" data-uid={r.uid} onClick={() => (location.hash = `#/runs/${r.uid}`)}>
              <td><StatusBadge s={r} /></td>
              <td>{r.scan_id ?? '—'}</td>
              <td>{r.plan_name ?? '—'}</td>
              <td>{String(r.start?.sample ?? '')}</td>
              <td title={utcTime(r.time_start)}>{localTime(r.time_start)}</td>
              <td>{duration(r.duration ?? (r.status === 'running' ? Date.now() / 1000 - r.time_start : null))}</td>
              <td>{r.progress != null ? <progress value={r.progress} max={1} /> : null} {r.events}{r.num_points ? `/${r.num_points}` : ''}</td>
              <td className="mono"><a href={`#/runs/${r.uid}`}>{r.uid.slice(0, 8)}</a></td>
            </tr>
          ))}
        </tbody>
      </table>
      {!loading && !runs.length && !error && <p className="empty">No runs{Object.values(filters).some(Boolean) ? ' match these filters' : ' yet — start a scan and it appears here'}.</p>}
      <div className="pager">
        <button disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>‹ Newer</button>
        <span data-testid="pager">{total ? `${offset + 1}–${Math.min(total, offset + PAGE)} of ${total}` : ''}</span>
        <button disabled={offset + PAGE >= total} onClick={() => setOffset(offset + PAGE)}>Older ›</button>
      </div>
    </section>
  );
}
