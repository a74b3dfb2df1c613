/**
 * The dashboard's style sheet: readable on a phone, dark when the system is.
 *
 * @module
 */

/** `/dashboard.css`. */
export const DASHBOARD_CSS = `:root {
  color-scheme: light dark;
  --bg: #ffffff;
  --fg: #1c1e21;
  --muted: #65676b;
  --line: #dde1e6;
  --accent: #0b6bcb;
  --ok: #1a7f37;
  --warn: #9a6700;
  --bad: #cf222e;
  --button: #f3f4f6;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f1115;
    --fg: #e6e6e6;
    --muted: #9aa0a6;
    --line: #2c3038;
    --accent: #58a6ff;
    --ok: #3fb950;
    --warn: #d29922;
    --bad: #f85149;
    --button: #21262d;
  }
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body {
  margin: 0 auto;
  max-width: 72rem;
  padding: 0.75rem;
  background: var(--bg);
  color: var(--fg);
  font: 15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
header { display: flex; align-items: baseline; gap: 1rem; flex-wrap: wrap; }
h1 { font-size: 1.3rem; margin: 0.2rem 0; }
h2 { font-size: 1.05rem; margin: 1.2rem 0 0.4rem; }
.status { font-size: 0.85rem; color: var(--muted); }
.status[data-state="live"] { color: var(--ok); }
.status[data-state="error"] { color: var(--bad); }
.count { color: var(--muted); font-weight: normal; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { text-align: left; padding: 0.35rem 0.5rem; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { color: var(--muted); font-weight: 600; font-size: 0.75rem; letter-spacing: 0.04em; }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.empty { color: var(--muted); font-style: italic; }
.fp { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 0.8rem; white-space: normal; min-width: 12rem; }
.fp span { margin-right: 0.35em; }
.connected { color: var(--ok); }
.offline { color: var(--muted); }
button {
  font: inherit; font-size: 0.85rem; padding: 0.25rem 0.7rem; margin: 0 0.2rem 0 0;
  border: 1px solid var(--line); border-radius: 6px; background: var(--button); color: var(--fg);
  cursor: pointer;
}
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.danger { color: var(--bad); }
button.danger.armed { background: var(--bad); border-color: var(--bad); color: #fff; }
button.link { background: none; border: none; color: var(--muted); text-decoration: underline; }
.login { display: flex; flex-direction: column; gap: 0.5rem; max-width: 22rem; margin: 2rem 0; }
.login input { font: inherit; padding: 0.4rem; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); color: var(--fg); }
.message { color: var(--bad); }
.events { list-style: none; padding: 0; margin: 0; font-size: 0.85rem; }
.events li { padding: 0.2rem 0; border-bottom: 1px solid var(--line); }
.events time { color: var(--muted); margin-right: 0.6rem; font-variant-numeric: tabular-nums; }
svg.spark { width: 7.5rem; height: 1.5rem; vertical-align: middle; }
svg.spark polyline { fill: none; stroke: var(--accent); stroke-width: 1.5; }
.footer { margin-top: 2rem; }
@media (max-width: 40rem) {
  body { padding: 0.5rem; font-size: 14px; }
  th, td { padding: 0.3rem; }
  .wide { display: none; }
}
`;
