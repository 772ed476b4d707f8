/** Times in the viewer's time zone; UTC for the tooltip. */
export function localTime(t: number | null | undefined): string {
  if (t == null) return '—';
  const d = new Date(t * 1000);
  return d.toLocaleString(undefined, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short' });
}
export function utcTime(t: number | null | undefined): string {
  return t == null ? '' : new Date(t * 1000).toISOString().replace('.000Z', 'Z') + ' (UTC)';
}
export function duration(s: number | null | undefined): string {
  if (s == null || !isFinite(s)) return '—';
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - m * 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}
export const USER_MD_SKIP = new Set(['uid', 'time', 'hints', 'plan_args', 'plan_pattern_args', 'plan_pattern', 'plan_pattern_module', 'shape', 'extents', 'snaking', 'motors', 'num_points', 'num_intervals', 'detectors', 'plan_type', 'versions', 'scan_id', 'plan_name', 'beamwatch_sim']);
