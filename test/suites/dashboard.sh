#!/usr/bin/env bash
# dashboard: `make dashboard`'s page shows the report views' numbers.
#
#  1. database wallet_dash: the demo's story and six weeks of traffic after it (test/demo.sql,
#     dashboard/history.sql), as `make dashboard` builds it;
#  2. dashboard/build.js writes the page (chart.js inlined, data embedded);
#  3. headless Chromium loads it (file://, no network) and prints the DOM after the scripts ran: the
#     page puts what each chart plots, read back from the charts, in <pre id="plotted">;
#  4. every point of every dataset equals what psql reads from the views, computed here on its own
#     (each day from the first to the last: flows 0 on a day without rows, the liability carried
#     over), and the charts are not empty;
#  5. a screenshot is taken; with DASHBOARD_SCREENSHOT=PATH it is kept there (docs/dashboard.png is
#     the one the README shows: refresh it so), otherwise the suite leaves the tree as it was.
#
# Run by test/run.sh (make test) with PGHOST/PGPORT/PGUSER set for a running cluster where the
# extension is installed; needs node, ./node_modules (make deps) and chromium. As root (CI),
# Chromium runs with --no-sandbox.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${PGHOST:?dashboard: PGHOST is not set (run through test/run.sh)}"
cd "$ROOT"
WORK=$(mktemp -d /tmp/wallet-dashboard.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
DB=wallet_dash
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[[ -n $CHROMIUM ]] || { echo "dashboard: FAIL: chromium is not installed (make deps)" >&2; exit 1; }
[[ -f node_modules/chart.js/package.json ]] || { echo "dashboard: FAIL: node_modules/chart.js is missing (make deps)" >&2; exit 1; }

# 1. the data
./test/run.sh _dashboard_demo_db "$DB" >"$WORK/history.out"
cat "$WORK/history.out"

# 2. the page
PGDATABASE=$DB node dashboard/build.js --out "$WORK/index.html" --currency CNY
if grep -qE '<(script|img|iframe)[^>]+src=|<link[^>]+href=' "$WORK/index.html"; then
    echo "dashboard: FAIL: the page loads something from elsewhere (it must inline everything)" >&2
    exit 1
fi

chrome() {
    "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
        --user-data-dir="$WORK/profile" --hide-scrollbars "$@" 2>"$WORK/chromium.err"
}

# 3. what the charts plot
chrome --virtual-time-budget=5000 --dump-dom "file://$WORK/index.html" >"$WORK/dom.html" ||
    { cat "$WORK/chromium.err" >&2; exit 1; }

# 4. the views' numbers, read by psql on their own
psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$DB" -v cur=CNY >"$WORK/expected.json" <<'SQL'
WITH flows AS (
  SELECT 'topups' AS chart, 'amount' AS series, day, sum(amount) AS v FROM wallet_report.topups_daily WHERE currency = :'cur' GROUP BY day
  UNION ALL SELECT 'topups', 'bonus granted', day, sum(bonus) FROM wallet_report.topups_daily WHERE currency = :'cur' GROUP BY day
  UNION ALL SELECT 'spending', 'charged', day, sum(charged) FROM wallet_report.spending_daily WHERE currency = :'cur' GROUP BY day
  UNION ALL SELECT 'spending', 'reversed', day, sum(reversed) FROM wallet_report.spending_daily WHERE currency = :'cur' GROUP BY day
  UNION ALL SELECT 'bonus', 'granted', day, granted FROM wallet_report.bonus_daily WHERE currency = :'cur'
  UNION ALL SELECT 'bonus', 'spent', day, spent FROM wallet_report.bonus_daily WHERE currency = :'cur'
  UNION ALL SELECT 'bonus', 'expired', day, expired FROM wallet_report.bonus_daily WHERE currency = :'cur'
  UNION ALL SELECT 'refunds', 'amount', day, sum(amount) FROM wallet_report.refunds_daily WHERE currency = :'cur' GROUP BY day
  UNION ALL SELECT 'refunds', 'net paid', day, sum(net) FROM wallet_report.refunds_daily WHERE currency = :'cur' GROUP BY day),
stocks AS (
  SELECT 'liability' AS chart, s.series, l.day, s.v
    FROM wallet_report.liability_daily l
   CROSS JOIN LATERAL (VALUES ('cash', l.cash), ('bonus', l.bonus), ('earnings', l.earnings), ('held', l.held)) s(series, v)
   WHERE l.currency = :'cur'),
span AS (SELECT min(day) AS lo, max(day) AS hi FROM (SELECT day FROM flows UNION ALL SELECT day FROM stocks) x),
days AS (SELECT d::date AS day FROM span, generate_series(span.lo, span.hi, interval '1 day') d),
names AS (SELECT DISTINCT chart, series FROM flows UNION SELECT DISTINCT chart, series FROM stocks),
points AS (
  SELECT n.chart, n.series, d.day,
         CASE WHEN n.chart = 'liability'
              THEN coalesce((SELECT s.v FROM stocks s WHERE s.series = n.series AND s.day <= d.day ORDER BY s.day DESC LIMIT 1), 0)
              ELSE coalesce((SELECT f.v FROM flows f WHERE f.chart = n.chart AND f.series = n.series AND f.day = d.day), 0) END AS v
    FROM names n CROSS JOIN days d)
SELECT json_build_object('days', (SELECT json_agg(day ORDER BY day) FROM days),
                         'series', (SELECT json_object_agg(chart || '/' || series, vs)
                                      FROM (SELECT chart, series, json_agg(v ORDER BY day) AS vs FROM points GROUP BY 1, 2) x));
SQL

python3 - "$WORK/dom.html" "$WORK/expected.json" <<'PY'
import html, json, re, sys
dom = open(sys.argv[1]).read()
m = re.search(r'<pre id="plotted"[^>]*>(.*?)</pre>', dom, re.S)
if not m or not m.group(1).strip():
    sys.exit('dashboard: FAIL: the page did not render its charts (no plotted data in the DOM)')
page = json.loads(html.unescape(m.group(1)))
want = json.loads(open(sys.argv[2]).read())
fails = 0
def fail(msg):
    global fails
    fails += 1
    print('FAIL:', msg)
if not page.get('ready'):
    fail('window.dashboard.ready is not set')
charts = page['charts']
seen = set()
for name, c in charts.items():
    if c['labels'] != want['days']:
        fail(f'{name}: the days plotted ({len(c["labels"])}, {c["labels"][:1]}..{c["labels"][-1:]}) are not the views\' '
             f'({len(want["days"])})')
    for ds in c['datasets']:
        key = f'{name}/{ds["label"]}'
        seen.add(key)
        exp = want['series'].get(key)
        if exp is None:
            fail(f'{key}: plotted, but no such series in the views')
            continue
        got = [float(x) for x in ds['data']]
        exp = [float(x) for x in exp]
        bad = [(want['days'][i], got[i], exp[i]) for i in range(min(len(got), len(exp))) if got[i] != exp[i]]
        if len(got) != len(exp) or bad:
            fail(f'{key}: {len(bad)} points differ from the views, first (day, plotted, view): {bad[:3]}')
        else:
            print(f'ok: {key}: {len(got)} points equal the views (sum {sum(got):.2f})')
missing = set(want['series']) - seen
if missing:
    fail(f'series of the views not plotted: {sorted(missing)}')
# the data is not empty: six weeks of days, top-ups, spends, expired bonus, refunds and a liability
if len(want['days']) < 42:
    fail(f'only {len(want["days"])} days of data')
for key in ['topups/amount', 'spending/charged', 'spending/reversed', 'bonus/granted', 'bonus/expired',
            'refunds/amount', 'liability/cash']:
    if sum(float(x) for x in want['series'].get(key, [])) <= 0:
        fail(f'{key} is empty: the data set does not exercise it')
print(f'dashboard: {len(charts)} charts, {len(seen)} series, {len(want["days"])} days')
sys.exit(1 if fails else 0)
PY

# 5. the screenshot the README shows
chrome --virtual-time-budget=5000 --window-size=1280,1000 --screenshot="$WORK/dashboard.png" "file://$WORK/index.html" >/dev/null ||
    { cat "$WORK/chromium.err" >&2; exit 1; }
size=$(stat -c %s "$WORK/dashboard.png")
((size > 20000)) || { echo "dashboard: FAIL: the screenshot is only $size bytes" >&2; exit 1; }
if [[ -n ${DASHBOARD_SCREENSHOT:-} ]]; then
    cp "$WORK/dashboard.png" "$DASHBOARD_SCREENSHOT"
    echo "ok: screenshot $DASHBOARD_SCREENSHOT ($size bytes)"
else
    echo "ok: screenshot taken ($size bytes; DASHBOARD_SCREENSHOT=docs/dashboard.png keeps it)"
fi
echo "dashboard: PASS"
