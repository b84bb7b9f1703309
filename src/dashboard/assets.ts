/**
 * The dashboard's only assets, served by the service itself (no CDN): its stylesheet, and the
 * small script that keeps a running report's progress moving. Without the script, a running
 * report's page reloads itself (<noscript> meta refresh).
 */

export const LIVE_JS = `(() => {
  const section = document.querySelector('[data-live]');
  if (!section) return;
  const url = section.getAttribute('data-live');
  const bar = document.getElementById('run-progress');
  const set = (id, text) => {
    const element = document.getElementById(id);
    if (element) element.textContent = text;
  };
  const tick = async () => {
    let view;
    try {
      const response = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
      if (response.redirected || !response.ok) {
        set('run-progress-text', 'Live updates stopped (the session may have ended): reload the page.');
        return;
      }
      view = await response.json();
    } catch {
      setTimeout(tick, 3000);
      return;
    }
    if (bar && view.total !== null) {
      bar.max = Math.max(view.total, 1);
      bar.value = view.done;
    }
    set('run-progress-text', view.text);
    set('run-rate', view.rate);
    set('run-eta', view.eta);
    if (view.status !== 'running') {
      location.reload();
      return;
    }
    setTimeout(tick, 1000);
  };
  setTimeout(tick, 1000);
})();
`;

export const DASHBOARD_CSS = `:root { color-scheme: light dark; --good: #1a7f37; --bad: #c62828; --warn: #9a6700; --busy: #0b5cad; --muted: #666; }
* { box-sizing: border-box; }
body { font: 16px/1.5 system-ui, sans-serif; margin: 0; }
header nav { display: flex; gap: 1rem; align-items: center; flex-wrap: wrap; padding: .6rem 1rem; border-bottom: 1px solid #8884; }
header nav .who { margin-left: auto; }
main { padding: 1rem; max-width: 70rem; }
a:focus, button:focus, input:focus, select:focus, summary:focus { outline: 3px solid #0b5cad; outline-offset: 2px; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 1rem; top: .5rem; background: Canvas; padding: .3rem; }
form.inline { display: inline; }
.stack { display: grid; gap: .5rem; max-width: 24rem; }
button, a.button { font: inherit; padding: .3rem .8rem; border: 1px solid #8888; border-radius: 4px; background: ButtonFace; color: ButtonText; cursor: pointer; text-decoration: none; display: inline-block; }
button.danger { border-color: var(--bad); }
.actions { display: flex; gap: .5rem; flex-wrap: wrap; align-items: center; }
table { border-collapse: collapse; margin: 1rem 0; }
caption { text-align: left; font-weight: bold; }
th, td { padding: .25rem .6rem; border-bottom: 1px solid #8884; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
input.small { width: 7rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dl.facts dt { font-weight: bold; }
dl.facts dd { margin: 0; }
.status { font-weight: 600; white-space: nowrap; }
.status.good { color: var(--good); } .status.bad { color: var(--bad); } .status.warn { color: var(--warn); } .status.busy { color: var(--busy); } .status.neutral { color: var(--muted); }
.problem { border-left: 4px solid var(--bad); padding: .3rem .8rem; }
.hint { color: var(--muted); }
progress { width: 16rem; height: 1rem; vertical-align: middle; }
ul.ids { columns: 2 22rem; font-size: .9rem; }
ul.checks { list-style: none; padding: 0; }
li.check { padding: .4rem 0; border-bottom: 1px solid #8883; }
.priority.high { color: var(--bad); } .priority.medium { color: var(--warn); }
pre { overflow-x: auto; background: #8881; padding: .5rem; }
.chart { max-width: 100%; height: auto; font: 12px system-ui, sans-serif; }
.chart .label, .chart .axis-label, .chart .note { fill: currentColor; }
.chart .axis { stroke: currentColor; }
.chart .p95 { fill: #0b5cad55; stroke: #0b5cad; }
.chart .p95.missed { fill: #c6282844; stroke: var(--bad); }
.chart .mark { fill: #0b5cad; stroke: Canvas; }
.chart .target { stroke: var(--bad); stroke-width: 2; stroke-dasharray: 4 2; }
.chart .baseline { fill: none; stroke: currentColor; stroke-width: 1.5; }
.chart .regression, .chart .missed-label { fill: var(--bad); font-weight: bold; }
`;
