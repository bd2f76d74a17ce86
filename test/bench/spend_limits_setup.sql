-- The limit rules spend_limits.pgb runs under (run.sh and instructions.sh add them before its runs
-- and drop them after, so that the other scripts run without rules): CNY spends at most
-- 10,000,000,000.00 a day, and at most 2,000,000,000 debits a month, per wallet. Neither is ever
-- reached: every spend is judged against both and counted, none is refused.
SELECT wallet.add_limit_rule('CNY', 'spend', 'day', 10000000000) AS spend_day,
       wallet.add_limit_rule('CNY', 'debit', 'month', max_count => 2000000000) AS debit_month;
