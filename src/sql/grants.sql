------------------------------------------------------------------------------
-- Privileges: nothing for PUBLIC; each role gets what section 13 gives it
------------------------------------------------------------------------------
REVOKE ALL ON ALL TABLES IN SCHEMA wallet FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA wallet FROM PUBLIC;
REVOKE ALL ON ALL PROCEDURES IN SCHEMA wallet FROM PUBLIC;
REVOKE ALL ON SCHEMA wallet FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE wallet.expire_bonus_all(int, numeric, bigint, bigint) TO wallet_admin;
GRANT USAGE ON SCHEMA wallet TO wallet_app, wallet_admin, wallet_reader, wallet_verifier;
GRANT USAGE ON SCHEMA wallet_report TO wallet_reader, wallet_admin;

-- pure functions (no table access) that views and callers evaluate
GRANT EXECUTE ON FUNCTION
  wallet.lotset_in(cstring), wallet.lotset_out(wallet.lotset), wallet.lotset_recv(internal),
  wallet.lotset_send(wallet.lotset), wallet.clock(), wallet.to_major(bigint, int),
  wallet.lots_list(wallet.lotset)
  TO wallet_app, wallet_admin, wallet_reader;

GRANT EXECUTE ON FUNCTION
  wallet.open(text, text), wallet.balance(bigint, text), wallet.lots(bigint),
  wallet.bonus_preview(text, numeric),
  wallet.top_up(bigint, numeric, text, text, text),
  wallet.spend(bigint, numeric, text, text, text, boolean, bigint, text, numeric, text),
  wallet.spend_preview(bigint, numeric, text, text, numeric),
  wallet.reverse_spend(bigint, text, numeric),
  wallet.refund_quote(bigint, text), wallet.request_refund(bigint, text, numeric, text, text),
  wallet.settle_refund(bigint, boolean, text),
  wallet.validate_coupon(text, bigint, numeric, text), wallet.issue_coupon(text, bigint, text),
  wallet.issue_coupons(text, bigint[], text), wallet.coupons(bigint),
  wallet.hold(bigint, numeric, text, text, interval, boolean, bigint, text, numeric, text),
  wallet.capture_hold(bigint, text, numeric, boolean), wallet.release_hold(bigint, text, numeric),
  wallet.extend_hold(bigint, interval, text), wallet.holds(bigint),
  wallet.group_pay(bigint, bigint[], numeric[], text, interval, text),
  wallet.join_group_pay(bigint, bigint, text), wallet.cancel_group_pay(bigint, bigint, text),
  wallet.group_pay_status(bigint),
  wallet.transfer(bigint, bigint, numeric, text, text, text, text),
  wallet.spend_split(bigint, numeric, text, bigint[], numeric[], text, text, text),
  wallet.withdraw_quote(bigint, numeric), wallet.request_withdrawal(bigint, numeric, text, text, text, text, text),
  wallet.withdrawals(bigint), wallet.set_auto_withdrawal(bigint, numeric, text),
  wallet.settle_withdrawal(bigint, boolean, text), wallet.return_withdrawal(bigint, text, text),
  wallet.exchange_quote(text, text, numeric), wallet.exchange(bigint, bigint, numeric, text, text),
  wallet.limit_usage(bigint)
  TO wallet_app;

GRANT EXECUTE ON FUNCTION
  wallet.balance(bigint, text), wallet.lots(bigint), wallet.bonus_preview(text, numeric),
  wallet.refund_quote(bigint, text),
  wallet.freeze(bigint, text), wallet.unfreeze(bigint), wallet.review_refund(bigint, boolean, text, text),
  wallet.expire_bonus(int), wallet.rollup_credits(int), wallet.reconcile(),
  wallet.set_policy(text, interval, numeric, numeric, int, interval, numeric, numeric, numeric, numeric, text[],
                    numeric, numeric, numeric, numeric, numeric, numeric, numeric, numeric, numeric, numeric,
                    interval, numeric, text, interval, numeric, int, text[]),
  wallet.add_bonus_rule(text, numeric, numeric, numeric, numeric, interval, text[], text, timestamptz,
                        timestamptz, numeric),
  wallet.end_bonus_rule(bigint, timestamptz),
  wallet.add_coupon_template(text, text, text, numeric, numeric, numeric, text[], timestamptz, timestamptz,
                             interval, int, int, text, numeric),
  wallet.coupons(bigint), wallet.adjust(bigint, text, numeric, text, text, text),
  wallet.holds(bigint), wallet.release_hold(bigint, text, numeric), wallet.expire_holds(int),
  wallet.group_pay_status(bigint), wallet.cancel_group_pay(bigint, bigint, text),
  wallet.withdraw_quote(bigint, numeric), wallet.withdrawals(bigint),
  wallet.review_withdrawal(bigint, boolean, text, text), wallet.settle_withdrawal(bigint, boolean, text),
  wallet.return_withdrawal(bigint, text, text), wallet.auto_withdraw(int),
  wallet.exchange_quote(text, text, numeric),
  wallet.set_fx_rate(text, text, numeric, numeric, timestamptz, timestamptz),
  wallet.add_reward_rule(text, numeric, text, numeric, interval, text, timestamptz, timestamptz),
  wallet.end_reward_rule(bigint, timestamptz),
  wallet.add_limit_rule(text, text, text, numeric, int, text, bigint), wallet.drop_limit_rule(bigint),
  wallet.limit_usage(bigint)
  TO wallet_admin;
GRANT EXECUTE ON FUNCTION wallet.grant_step_up(bigint, text, numeric, text, interval) TO wallet_verifier;
GRANT SELECT ON wallet.currency, wallet.policy, wallet.bonus_rule, wallet.reconciliation_run,
  wallet.risk_flag, wallet.refund, wallet.hold, wallet.group_pay, wallet.group_pay_member, wallet.expiring_bonus, wallet.coupon_template, wallet.coupon,
  wallet.withdrawal, wallet.auto_withdrawal, wallet.fx_rate, wallet.reward_rule, wallet.limit_rule
  TO wallet_admin;
GRANT SELECT ON wallet.limit_rule TO wallet_reader;
GRANT SELECT ON wallet.coupon_stats TO wallet_admin, wallet_reader;

GRANT SELECT ON wallet.transactions, wallet.postings TO wallet_reader, wallet_admin;
-- what an application shows its customers (section 21): through functions, not the tables
GRANT EXECUTE ON FUNCTION
  wallet.statement(bigint, bigint, int, timestamptz), wallet.transaction(bigint), wallet.refund_status(bigint)
  TO wallet_app, wallet_admin;
