#!/usr/bin/env node
// dashboard/build.js: writes a static HTML page of trend charts from a database's wallet_report
// views (top-ups, spending, bonus granted/spent/expired, refunds, liability), with the data and
// the chart library (chart.js from node_modules, inlined) in the page: no server, no CDN.
//
//   node dashboard/build.js [--out FILE] [--currency CODE]
//
// The database is the one psql reaches with the libpq environment (PGHOST, PGPORT, PGDATABASE,
// PGUSER, ...); the views are read as JSON through psql. --out defaults to dashboard/index.html;
// --currency to the currency with the most top-ups. The page plots every day from the first to the
// last day any view has (flows are 0 on a day without rows; the liability carries over) and exposes
// what it plotted as window.dashboard.charts and in <pre id="plotted">, for tests.
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const root = path.resolve(__dirname, '..');
const out = path.resolve(arg('--out', path.join(root, 'dashboard', 'index.html')));

// psql runs one query whose single value is JSON; variables are passed with -v and read as :'name'.
function query(sql, vars = {}) {
  const args = ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1'];
  for (const [k, v] of Object.entries(vars)) args.push('-v', `${k}=${v}`);
  const text = execFileSync('psql', args, { input: sql, encoding: 'utf8' });
  return JSON.parse(text.trim() || 'null');
}

let currency = arg('--currency', null);
if (currency === null) {
  currency = query(`SELECT to_json(coalesce(
      (SELECT currency FROM wallet_report.topups_daily GROUP BY currency ORDER BY sum(count) DESC, currency LIMIT 1),
      'CNY'));`);
}
if (!/^[A-Z]{3}$/.test(currency)) throw new Error(`currency must be a 3-letter code, got ${currency}`);

// One query per chart: rows per day, summed over the views' other dimensions.
const rows = (sql) => query(`SELECT coalesce(json_agg(t ORDER BY t.day), '[]') FROM (${sql}) t;`, { cur: currency });
const data = {
  currency,
  generated: query(`SELECT to_json(wallet.clock());`),
  topups: rows(`SELECT day, sum(count) AS count, sum(amount) AS amount, sum(bonus) AS bonus
                  FROM wallet_report.topups_daily WHERE currency = :'cur' GROUP BY day`),
  spending: rows(`SELECT day, sum(count) AS count, sum(charged) AS charged, sum(reversed) AS reversed
                    FROM wallet_report.spending_daily WHERE currency = :'cur' GROUP BY day`),
  bonus: rows(`SELECT day, granted, spent, expired FROM wallet_report.bonus_daily WHERE currency = :'cur'`),
  refunds: rows(`SELECT day, sum(count) AS count, sum(amount) AS amount, sum(net) AS net
                   FROM wallet_report.refunds_daily WHERE currency = :'cur' GROUP BY day`),
  liability: rows(`SELECT day, wallets, cash, bonus, earnings, held, debt, total
                     FROM wallet_report.liability_daily WHERE currency = :'cur'`),
};

const chartjs = fs.readFileSync(path.join(root, 'node_modules', 'chart.js', 'dist', 'chart.umd.min.js'), 'utf8');
const chartjsVersion = JSON.parse(fs.readFileSync(path.join(root, 'node_modules', 'chart.js', 'package.json'), 'utf8')).version;
// </script> inside inlined text would end the element early
const inline = (s) => s.replace(/<\/script/gi, '<\\/script');

const page = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>wallet: trends (${currency})</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 24px; color: #1f2933; background: #f7f8fa; }
  h1 { font-size: 22px; margin: 0 0 4px; }
  p.meta { margin: 0 0 20px; color: #52606d; font-size: 13px; }
  .grid { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 18px; }
  .card { background: #fff; border: 1px solid #e4e7eb; border-radius: 8px; padding: 12px 14px; }
  .card h2 { font-size: 15px; margin: 0 0 8px; }
  .card.wide { grid-column: span 2; }
  .box { position: relative; height: 230px; }
</style>
</head>
<body>
<h1>wallet: trends in ${currency}</h1>
<p class="meta">From the wallet_report views; amounts in major units. Generated at wallet clock
<span id="generated"></span>; days in the database's TimeZone. Chart.js ${chartjsVersion}.</p>
<div class="grid">
  <div class="card"><h2>Top-ups per day</h2><div class="box"><canvas id="topups"></canvas></div></div>
  <div class="card"><h2>Spending per day</h2><div class="box"><canvas id="spending"></canvas></div></div>
  <div class="card"><h2>Bonus per day: granted, spent, expired</h2><div class="box"><canvas id="bonus"></canvas></div></div>
  <div class="card"><h2>Refunds per day (by day requested)</h2><div class="box"><canvas id="refunds"></canvas></div></div>
  <div class="card wide"><h2>Liability at the end of each day</h2><div class="box"><canvas id="liability"></canvas></div></div>
</div>
<pre id="plotted" hidden></pre>
<script>${inline(chartjs)}</script>
<script>window.DASHBOARD_DATA = ${inline(JSON.stringify(data))};</script>
<script>
(function () {
  'use strict';
  var D = window.DASHBOARD_DATA;
  document.getElementById('generated').textContent = String(D.generated);
  // every day from the first to the last any view has (ISO dates sort as text)
  var days = [];
  ['topups', 'spending', 'bonus', 'refunds', 'liability'].forEach(function (k) {
    D[k].forEach(function (r) { days.push(r.day); });
  });
  days.sort();
  var labels = [];
  if (days.length) {
    var d = new Date(days[0] + 'T00:00:00Z'), last = new Date(days[days.length - 1] + 'T00:00:00Z');
    for (; d <= last; d.setUTCDate(d.getUTCDate() + 1)) labels.push(d.toISOString().slice(0, 10));
  }
  function byDay(rows) { var m = {}; rows.forEach(function (r) { m[r.day] = r; }); return m; }
  // a flow: 0 on a day without a row
  function flow(rows, col) {
    var m = byDay(rows);
    return labels.map(function (day) { return m[day] ? Number(m[day][col]) : 0; });
  }
  // a stock: the last value on or before the day (0 before the first)
  function stock(rows, col) {
    var m = byDay(rows), v = 0;
    return labels.map(function (day) { if (m[day]) v = Number(m[day][col]); return v; });
  }
  var colors = ['#2f80ed', '#eb5757', '#27ae60', '#f2994a', '#9b51e0', '#56ccf2'];
  function make(id, type, series, stacked) {
    var ds = series.map(function (s, i) {
      return { label: s[0], data: s[1], backgroundColor: colors[i] + (type === 'line' ? '33' : 'cc'),
               borderColor: colors[i], borderWidth: type === 'line' ? 2 : 0, pointRadius: 0,
               fill: type === 'line' && stacked, tension: 0.2 };
    });
    return new Chart(document.getElementById(id), {
      type: type,
      data: { labels: labels, datasets: ds },
      options: { animation: false, responsive: true, maintainAspectRatio: false,
                 interaction: { mode: 'index', intersect: false },
                 scales: { x: { stacked: !!stacked, ticks: { maxTicksLimit: 12 } },
                           y: { stacked: !!stacked, beginAtZero: true } },
                 plugins: { legend: { position: 'bottom' } } }
    });
  }
  var charts = {
    topups: make('topups', 'bar', [['amount', flow(D.topups, 'amount')], ['bonus granted', flow(D.topups, 'bonus')]]),
    spending: make('spending', 'bar', [['charged', flow(D.spending, 'charged')], ['reversed', flow(D.spending, 'reversed')]]),
    bonus: make('bonus', 'line', [['granted', flow(D.bonus, 'granted')], ['spent', flow(D.bonus, 'spent')],
                                  ['expired', flow(D.bonus, 'expired')]]),
    refunds: make('refunds', 'bar', [['amount', flow(D.refunds, 'amount')], ['net paid', flow(D.refunds, 'net')]]),
    liability: make('liability', 'line', [['cash', stock(D.liability, 'cash')], ['bonus', stock(D.liability, 'bonus')],
                                          ['earnings', stock(D.liability, 'earnings')], ['held', stock(D.liability, 'held')]],
                    true)
  };
  // what each chart plots, read back from the charts themselves
  var plotted = {};
  Object.keys(charts).forEach(function (k) {
    var c = charts[k];
    plotted[k] = { labels: c.data.labels.slice(),
                   datasets: c.data.datasets.map(function (s) { return { label: s.label, data: s.data.slice() }; }) };
  });
  window.dashboard = { ready: true, currency: D.currency, charts: plotted };
  document.getElementById('plotted').textContent = JSON.stringify(window.dashboard);
})();
</script>
</body>
</html>
`;
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, page);
console.log(`dashboard: wrote ${out} (${currency}, ${data.topups.length} days of top-ups, ${data.liability.length} of liability)`);
