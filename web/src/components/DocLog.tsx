import { memo, useState } from 'react';
import type { LogItem, RunState } from '../lib/runstate';

const TYPES = ['start', 'descriptor', 'event', 'resource', 'datum', 'stream_resource', 'stream_datum', 'stop'];

export default function DocLog({ st }: { st: RunState }) {
  const [hidden, setHidden] = useState<Set<string>>(new Set());
  const [open, setOpen] = useState(true);
  const shown = st.log.filter((d) => !hidden.has(d.name.replace('_page', '')));
  const last = shown.slice(-200).reverse();
  const toggle = (t: string) => {
    const next = new Set(hidden);
    if (next.has(t)) next.delete(t);
    else next.add(t);
    setHidden(next);
  };
  return (
    <section className="panel doclog" data-testid="doclog">
      <div className="panel-head">
        <h2 onClick={() => setOpen(!open)} style={{ cursor: 'pointer' }}>{open ? '▾' : '▸'} Documents</h2>
        <span className="types">
          {TYPES.map((t) => (
            <label key={t}><input type="checkbox" checked={!hidden.has(t)} onChange={() => toggle(t)} data-testid={`log-${t}`} /> {t}</label>
          ))}
        </span>
        <span className="muted">{shown.length} shown{st.logSkipped ? `, ${st.logSkipped} older skipped` : ''}</span>
      </div>
      {open && (
        <ol className="log" data-testid="log-list">
          {last.map((d) => <LogRow key={d.n} d={d} />)}
        </ol>
      )}
    </section>
  );
}

/** One document; a log item never changes, so it is rendered (and serialised) once. */
const LogRow = memo(function LogRow({ d }: { d: LogItem }) {
  return (
    <li data-name={d.name}>
      <details>
        <summary><span className={`doc-name doc-${d.name}`}>{d.name}</span> {brief(d.name, d.doc)}</summary>
        <pre>{JSON.stringify(d.doc, null, 1)}</pre>
      </details>
    </li>
  );
});

function brief(name: string, doc: Record<string, any>): string {
  if (name === 'event') {
    const data = Object.entries(doc.data ?? {}).slice(0, 6).map(([k, v]) => `${k}=${typeof v === 'number' ? +v.toPrecision(5) : v}`);
    return `#${doc.seq_num} ${data.join(' ')}`;
  }
  if (name === 'descriptor') return `${doc.name ?? 'primary'}: ${Object.keys(doc.data_keys ?? {}).join(', ')}`;
  if (name === 'stop') return `${doc.exit_status}${doc.reason ? ' — ' + doc.reason : ''} (${JSON.stringify(doc.num_events ?? {})})`;
  if (name === 'start') return `${doc.plan_name ?? ''} scan ${doc.scan_id ?? ''}`;
  return doc.uid ?? '';
}
