-- written by test/router/gen_proxies.sql from the wallet extension's functions: do not edit

CREATE TYPE wallet.refund_row AS (refund_id bigint, amount numeric, fee numeric, net numeric, bonus_clawback numeric, bonus_void numeric, status text, wallet_id bigint, topup_txn bigint, reason text, coupon_clawback numeric, coupons_voided integer, requested_at timestamp with time zone, reviewed_at timestamp with time zone, settled_at timestamp with time zone, reviewer text, review_note text, gateway_ref text);
CREATE TYPE wallet.spend_result AS (txn_id bigint, charged numeric, discount numeric, bonus_used numeric, cash_used numeric, earnings_used numeric, shortfall numeric, replayed boolean, points numeric);
CREATE TYPE wallet.top_up_result AS (txn_id bigint, bonus numeric, replayed boolean, coupons text[]);
CREATE TYPE wallet.transaction_row AS (txn_id bigint, wallet_id bigint, kind text, amount numeric, currency text, created_at timestamp with time zone, idempotency_key text, ref_txn bigint, order_ref text, postings jsonb);

CREATE FUNCTION wallet.adjust(wallet_id bigint, bucket text, amount numeric, reason text, idempotency_key text, repair text DEFAULT NULL::text)
  RETURNS TABLE(txn_id bigint, replayed boolean)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(wallet_id);
  SELECT * FROM wallet.adjust(wallet_id, bucket, amount, reason, idempotency_key, repair);
$$;
GRANT EXECUTE ON FUNCTION wallet.adjust(wallet_id bigint, bucket text, amount numeric, reason text, idempotency_key text, repair text) TO wallet_admin;

CREATE FUNCTION wallet_router.shard_balance(wallet_id bigint, scene text DEFAULT NULL::text)
  RETURNS TABLE(wallet_id bigint, currency text, cash numeric, bonus numeric, earnings numeric, held numeric, available numeric, withdrawable numeric, frozen boolean, debt numeric)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(wallet_id);
  SELECT * FROM wallet.balance(wallet_id, scene);
$$;
GRANT EXECUTE ON FUNCTION wallet_router.shard_balance(wallet_id bigint, scene text) TO wallet_admin, wallet_app;
CREATE FUNCTION wallet.balance(wallet_id bigint, scene text DEFAULT NULL::text)
  RETURNS TABLE(wallet_id bigint, currency text, cash numeric, bonus numeric, earnings numeric, held numeric, available numeric, withdrawable numeric, frozen boolean, debt numeric, incoming numeric)
  LANGUAGE sql STABLE AS $$
  SELECT b.*, (SELECT coalesce(sum(i), 0) FROM wallet_router._incoming($1) i)
    FROM wallet_router.shard_balance($1, $2) b
$$;
GRANT EXECUTE ON FUNCTION wallet.balance(wallet_id bigint, scene text) TO wallet_admin, wallet_app;

CREATE FUNCTION wallet.bonus_preview(currency text, amount numeric)
  RETURNS TABLE(campaign text, bonus numeric, expires_at timestamp with time zone, scope text[])
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON 0;
  SELECT * FROM wallet.bonus_preview(currency, amount);
$$;
GRANT EXECUTE ON FUNCTION wallet.bonus_preview(currency text, amount numeric) TO wallet_admin, wallet_app;

CREATE FUNCTION wallet.cancel_group_pay(group_id bigint, wallet_id bigint, idempotency_key text)
  RETURNS TABLE(status text, replayed boolean)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(group_id);
  SELECT * FROM wallet.cancel_group_pay(group_id, wallet_id, idempotency_key);
$$;
GRANT EXECUTE ON FUNCTION wallet.cancel_group_pay(group_id bigint, wallet_id bigint, idempotency_key text) TO wallet_admin, wallet_app;

CREATE FUNCTION wallet.capture_hold(hold_id bigint, idempotency_key text, amount numeric DEFAULT NULL::numeric, final boolean DEFAULT true)
  RETURNS TABLE(txn_id bigint, captured numeric, bonus_used numeric, cash_used numeric, earnings_used numeric, released numeric, remaining numeric, status text, replayed boolean, points numeric)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(hold_id);
  SELECT * FROM wallet.capture_hold(hold_id, idempotency_key, amount, final);
$$;
GRANT EXECUTE ON FUNCTION wallet.capture_hold(hold_id bigint, idempotency_key text, amount numeric, final boolean) TO wallet_app;

CREATE FUNCTION wallet.card_quote(card_type text, face_value numeric, quantity integer DEFAULT 1, wallet_id bigint DEFAULT NULL::bigint)
  RETURNS TABLE(quote_id bigint, rate numeric, payout_each numeric, fee_each numeric, payout_total numeric, valid_until timestamp with time zone)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(wallet_id);
  SELECT * FROM wallet.card_quote(card_type, face_value, quantity, wallet_id);
$$;
GRANT EXECUTE ON FUNCTION wallet.card_quote(card_type text, face_value numeric, quantity integer, wallet_id bigint) TO wallet_admin, wallet_app;

CREATE FUNCTION wallet.coupons(wallet_id bigint)
  RETURNS TABLE(code text, template_id text, status text, valid_from timestamp with time zone, valid_until timestamp with time zone, redeemed_txn bigint, discount numeric)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(wallet_id);
  SELECT * FROM wallet.coupons(wallet_id);
$$;
GRANT EXECUTE ON FUNCTION wallet.coupons(wallet_id bigint) TO wallet_admin, wallet_app;

CREATE FUNCTION wallet.exchange(from_wallet bigint, to_wallet bigint, amount numeric, idempotency_key text, step_up text DEFAULT NULL::text)
  RETURNS TABLE(txn_id bigint, rate numeric, fee numeric, to_amount numeric, replayed boolean)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(from_wallet);
  SELECT * FROM wallet.exchange(from_wallet, to_wallet, amount, idempotency_key, step_up);
$$;
GRANT EXECUTE ON FUNCTION wallet.exchange(from_wallet bigint, to_wallet bigint, amount numeric, idempotency_key text, step_up text) TO wallet_app;

CREATE FUNCTION wallet.exchange_quote(from_currency text, to_currency text, amount numeric)
  RETURNS TABLE(rate numeric, fee numeric, to_amount numeric, valid_until timestamp with time zone)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON 0;
  SELECT * FROM wallet.exchange_quote(from_currency, to_currency, amount);
$$;
GRANT EXECUTE ON FUNCTION wallet.exchange_quote(from_currency text, to_currency text, amount numeric) TO wallet_admin, wallet_app;

CREATE FUNCTION wallet.extend_hold(hold_id bigint, ttl interval, idempotency_key text)
  RETURNS TABLE(expires_at timestamp with time zone, replayed boolean)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(hold_id);
  SELECT * FROM wallet.extend_hold(hold_id, ttl, idempotency_key);
$$;
GRANT EXECUTE ON FUNCTION wallet.extend_hold(hold_id bigint, ttl interval, idempotency_key text) TO wallet_app;

CREATE FUNCTION wallet."freeze"(wallet_id bigint, reason text)
  RETURNS void
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(wallet_id);
  SELECT * FROM wallet."freeze"(wallet_id, reason);
$$;
GRANT EXECUTE ON FUNCTION wallet."freeze"(wallet_id bigint, reason text) TO wallet_admin;

CREATE FUNCTION wallet.grant_step_up(wallet_id bigint, operation text, max_amount numeric, verifier text, ttl interval DEFAULT '00:05:00'::interval)
  RETURNS text
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(wallet_id);
  SELECT * FROM wallet.grant_step_up(wallet_id, operation, max_amount, verifier, ttl);
$$;
GRANT EXECUTE ON FUNCTION wallet.grant_step_up(wallet_id bigint, operation text, max_amount numeric, verifier text, ttl interval) TO wallet_verifier;

CREATE FUNCTION wallet.group_pay(payee bigint, wallet_ids bigint[], amounts numeric[], idempotency_key text, ttl interval DEFAULT '1 day'::interval, order_ref text DEFAULT NULL::text)
  RETURNS bigint
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(payee);
  SELECT * FROM wallet.group_pay(payee, wallet_ids, amounts, idempotency_key, ttl, order_ref);
$$;
GRANT EXECUTE ON FUNCTION wallet.group_pay(payee bigint, wallet_ids bigint[], amounts numeric[], idempotency_key text, ttl interval, order_ref text) TO wallet_app;

CREATE FUNCTION wallet.group_pay_status(group_id bigint)
  RETURNS TABLE(status text, joined integer, participants integer, amount numeric, paid_txn bigint)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(group_id);
  SELECT * FROM wallet.group_pay_status(group_id);
$$;
GRANT EXECUTE ON FUNCTION wallet.group_pay_status(group_id bigint) TO wallet_admin, wallet_app;

CREATE FUNCTION wallet.hold(wallet_id bigint, amount numeric, idempotency_key text, scene text DEFAULT NULL::text, ttl interval DEFAULT '7 days'::interval, allow_partial boolean DEFAULT false, payee bigint DEFAULT NULL::bigint, order_ref text DEFAULT NULL::text, max_charge numeric DEFAULT NULL::numeric, step_up text DEFAULT NULL::text)
  RETURNS TABLE(hold_id bigint, held numeric, bonus_held numeric, cash_held numeric, earnings_held numeric, shortfall numeric, expires_at timestamp with time zone, replayed boolean)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(wallet_id);
  SELECT * FROM wallet.hold(wallet_id, amount, idempotency_key, scene, ttl, allow_partial, payee, order_ref, max_charge, step_up);
$$;
GRANT EXECUTE ON FUNCTION wallet.hold(wallet_id bigint, amount numeric, idempotency_key text, scene text, ttl interval, allow_partial boolean, payee bigint, order_ref text, max_charge numeric, step_up text) TO wallet_app;

CREATE FUNCTION wallet.holds(wallet_id bigint)
  RETURNS TABLE(hold_id bigint, status text, amount numeric, captured numeric, released numeric, remaining numeric, expires_at timestamp with time zone, payee bigint, order_ref text, created_at timestamp with time zone)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(wallet_id);
  SELECT * FROM wallet.holds(wallet_id);
$$;
GRANT EXECUTE ON FUNCTION wallet.holds(wallet_id bigint) TO wallet_admin, wallet_app;

CREATE FUNCTION wallet.intake_items(intake_id bigint)
  RETURNS TABLE(item_id bigint, face_value numeric, last4 text, status text, actual_face numeric, rate numeric, payout numeric)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(intake_id);
  SELECT * FROM wallet.intake_items(intake_id);
$$;
GRANT EXECUTE ON FUNCTION wallet.intake_items(intake_id bigint) TO wallet_admin, wallet_app;

CREATE FUNCTION wallet.intakes(wallet_id bigint)
  RETURNS TABLE(intake_id bigint, card_type text, status text, items integer, duplicates integer, verified integer, invalid integer, pending integer, quoted_total numeric, paid numeric, batch_ref text, submitted_at timestamp with time zone, paid_at timestamp with time zone)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(wallet_id);
  SELECT * FROM wallet.intakes(wallet_id);
$$;
GRANT EXECUTE ON FUNCTION wallet.intakes(wallet_id bigint) TO wallet_admin, wallet_app;

CREATE FUNCTION wallet.issue_coupon(template_id text, wallet_id bigint, idempotency_key text)
  RETURNS text
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(wallet_id);
  SELECT * FROM wallet.issue_coupon(template_id, wallet_id, idempotency_key);
$$;
GRANT EXECUTE ON FUNCTION wallet.issue_coupon(template_id text, wallet_id bigint, idempotency_key text) TO wallet_app;

CREATE FUNCTION wallet.issue_coupons(template_id text, wallet_ids bigint[], idempotency_key text)
  RETURNS TABLE(wallet_id bigint, code text)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  SPLIT wallet_ids;
  RUN ON wallet_router.route(wallet_ids);
  SELECT * FROM wallet.issue_coupons(template_id, wallet_ids, idempotency_key);
$$;
GRANT EXECUTE ON FUNCTION wallet.issue_coupons(template_id text, wallet_ids bigint[], idempotency_key text) TO wallet_app;

CREATE FUNCTION wallet_router.shard_join_group_pay(group_id bigint, wallet_id bigint, idempotency_key text)
  RETURNS TABLE(hold_id bigint, status text, joined integer, participants integer, replayed boolean)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(group_id);
  SELECT * FROM wallet.join_group_pay(group_id, wallet_id, idempotency_key);
$$;
GRANT EXECUTE ON FUNCTION wallet_router.shard_join_group_pay(group_id bigint, wallet_id bigint, idempotency_key text) TO wallet_app;
GRANT EXECUTE ON FUNCTION wallet.join_group_pay(group_id bigint, wallet_id bigint, idempotency_key text) TO wallet_app;

CREATE FUNCTION wallet.limit_usage(wallet_id bigint)
  RETURNS TABLE(rule_id bigint, operation text, period text, period_start timestamp with time zone, used_amount numeric, used_count bigint, remaining_amount numeric, remaining_count bigint)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(wallet_id);
  SELECT * FROM wallet.limit_usage(wallet_id);
$$;
GRANT EXECUTE ON FUNCTION wallet.limit_usage(wallet_id bigint) TO wallet_admin, wallet_app;

CREATE FUNCTION wallet.lots(wallet_id bigint)
  RETURNS TABLE(lot_id integer, bucket text, amount numeric, source_txn bigint, granted_at timestamp with time zone, expires_at timestamp with time zone, scope text[], held numeric, refundable_until timestamp with time zone)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(wallet_id);
  SELECT * FROM wallet.lots(wallet_id);
$$;
GRANT EXECUTE ON FUNCTION wallet.lots(wallet_id bigint) TO wallet_admin, wallet_app;

CREATE FUNCTION wallet.open(owner text, currency text DEFAULT 'CNY'::text)
  RETURNS bigint
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON hashtext(owner);
  SELECT * FROM wallet.open(owner, currency);
$$;
GRANT EXECUTE ON FUNCTION wallet.open(owner text, currency text) TO wallet_app;

CREATE FUNCTION wallet.reconcile()
  RETURNS TABLE(check_name text, wallet_id bigint, currency text, expected numeric, actual numeric)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON ALL;
  SELECT * FROM wallet.reconcile();
$$;
GRANT EXECUTE ON FUNCTION wallet.reconcile() TO wallet_admin;

CREATE FUNCTION wallet.refund_quote(topup_txn_id bigint, reason text DEFAULT 'user'::text)
  RETURNS TABLE(max_amount numeric, bonus_clawback numeric, bonus_void numeric, fee_rate numeric, refundable_until timestamp with time zone, coupon_clawback numeric, coupons_voided integer)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(topup_txn_id);
  SELECT * FROM wallet.refund_quote(topup_txn_id, reason);
$$;
GRANT EXECUTE ON FUNCTION wallet.refund_quote(topup_txn_id bigint, reason text) TO wallet_admin, wallet_app;

CREATE FUNCTION wallet.refund_status(refund_id bigint)
  RETURNS SETOF wallet.refund_row
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(refund_id);
  SELECT * FROM wallet.refund_status(refund_id);
$$;
GRANT EXECUTE ON FUNCTION wallet.refund_status(refund_id bigint) TO wallet_admin, wallet_app;

CREATE FUNCTION wallet.release_hold(hold_id bigint, idempotency_key text, amount numeric DEFAULT NULL::numeric)
  RETURNS TABLE(txn_id bigint, released numeric, remaining numeric, status text, replayed boolean)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(hold_id);
  SELECT * FROM wallet.release_hold(hold_id, idempotency_key, amount);
$$;
GRANT EXECUTE ON FUNCTION wallet.release_hold(hold_id bigint, idempotency_key text, amount numeric) TO wallet_admin, wallet_app;

CREATE FUNCTION wallet.request_refund(topup_txn_id bigint, idempotency_key text, amount numeric DEFAULT NULL::numeric, reason text DEFAULT 'user'::text, note text DEFAULT NULL::text)
  RETURNS TABLE(refund_id bigint, amount numeric, fee numeric, net numeric, bonus_clawback numeric, bonus_void numeric, status text, replayed boolean, coupon_clawback numeric, coupons_voided integer)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(topup_txn_id);
  SELECT * FROM wallet.request_refund(topup_txn_id, idempotency_key, amount, reason, note);
$$;
GRANT EXECUTE ON FUNCTION wallet.request_refund(topup_txn_id bigint, idempotency_key text, amount numeric, reason text, note text) TO wallet_app;

CREATE FUNCTION wallet.request_withdrawal(wallet_id bigint, amount numeric, idempotency_key text, destination text, method text DEFAULT NULL::text, note text DEFAULT NULL::text, step_up text DEFAULT NULL::text)
  RETURNS TABLE(withdrawal_id bigint, amount numeric, fee numeric, net numeric, status text, replayed boolean)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(wallet_id);
  SELECT * FROM wallet.request_withdrawal(wallet_id, amount, idempotency_key, destination, method, note, step_up);
$$;
GRANT EXECUTE ON FUNCTION wallet.request_withdrawal(wallet_id bigint, amount numeric, idempotency_key text, destination text, method text, note text, step_up text) TO wallet_app;

CREATE FUNCTION wallet.return_withdrawal(withdrawal_id bigint, gateway_ref text, reason text)
  RETURNS text
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(withdrawal_id);
  SELECT * FROM wallet.return_withdrawal(withdrawal_id, gateway_ref, reason);
$$;
GRANT EXECUTE ON FUNCTION wallet.return_withdrawal(withdrawal_id bigint, gateway_ref text, reason text) TO wallet_admin, wallet_app;

CREATE FUNCTION wallet.reverse_spend(spend_txn_id bigint, idempotency_key text, amount numeric DEFAULT NULL::numeric)
  RETURNS TABLE(txn_id bigint, bonus_returned numeric, cash_returned numeric, earnings_returned numeric, replayed boolean, bonus_written_off numeric, bonus_to_cash numeric, coupon_restored boolean)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(spend_txn_id);
  SELECT * FROM wallet.reverse_spend(spend_txn_id, idempotency_key, amount);
$$;
GRANT EXECUTE ON FUNCTION wallet.reverse_spend(spend_txn_id bigint, idempotency_key text, amount numeric) TO wallet_app;

CREATE FUNCTION wallet.review_intake(intake_id bigint, approve boolean, reviewer text, note text DEFAULT NULL::text)
  RETURNS text
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(intake_id);
  SELECT * FROM wallet.review_intake(intake_id, approve, reviewer, note);
$$;
GRANT EXECUTE ON FUNCTION wallet.review_intake(intake_id bigint, approve boolean, reviewer text, note text) TO wallet_admin;

CREATE FUNCTION wallet.review_refund(refund_id bigint, approve boolean, reviewer text, note text DEFAULT NULL::text)
  RETURNS text
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(refund_id);
  SELECT * FROM wallet.review_refund(refund_id, approve, reviewer, note);
$$;
GRANT EXECUTE ON FUNCTION wallet.review_refund(refund_id bigint, approve boolean, reviewer text, note text) TO wallet_admin;

CREATE FUNCTION wallet.review_withdrawal(withdrawal_id bigint, approve boolean, reviewer text, note text DEFAULT NULL::text)
  RETURNS text
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(withdrawal_id);
  SELECT * FROM wallet.review_withdrawal(withdrawal_id, approve, reviewer, note);
$$;
GRANT EXECUTE ON FUNCTION wallet.review_withdrawal(withdrawal_id bigint, approve boolean, reviewer text, note text) TO wallet_admin;

CREATE FUNCTION wallet.set_auto_withdrawal(wallet_id bigint, threshold numeric, destination text)
  RETURNS boolean
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(wallet_id);
  SELECT * FROM wallet.set_auto_withdrawal(wallet_id, threshold, destination);
$$;
GRANT EXECUTE ON FUNCTION wallet.set_auto_withdrawal(wallet_id bigint, threshold numeric, destination text) TO wallet_app;

CREATE FUNCTION wallet.settle_intake(intake_id bigint, idempotency_key text)
  RETURNS TABLE(txn_id bigint, paid numeric, items_paid integer, status text)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(intake_id);
  SELECT * FROM wallet.settle_intake(intake_id, idempotency_key);
$$;
GRANT EXECUTE ON FUNCTION wallet.settle_intake(intake_id bigint, idempotency_key text) TO wallet_admin, wallet_app;

CREATE FUNCTION wallet.settle_refund(refund_id bigint, succeeded boolean, gateway_ref text DEFAULT NULL::text)
  RETURNS text
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(refund_id);
  SELECT * FROM wallet.settle_refund(refund_id, succeeded, gateway_ref);
$$;
GRANT EXECUTE ON FUNCTION wallet.settle_refund(refund_id bigint, succeeded boolean, gateway_ref text) TO wallet_app;

CREATE FUNCTION wallet.settle_withdrawal(withdrawal_id bigint, succeeded boolean, gateway_ref text DEFAULT NULL::text)
  RETURNS text
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(withdrawal_id);
  SELECT * FROM wallet.settle_withdrawal(withdrawal_id, succeeded, gateway_ref);
$$;
GRANT EXECUTE ON FUNCTION wallet.settle_withdrawal(withdrawal_id bigint, succeeded boolean, gateway_ref text) TO wallet_admin, wallet_app;

CREATE FUNCTION wallet.spend(wallet_id bigint, amount numeric, idempotency_key text, scene text DEFAULT NULL::text, coupon text DEFAULT NULL::text, allow_partial boolean DEFAULT false, payee bigint DEFAULT NULL::bigint, order_ref text DEFAULT NULL::text, max_charge numeric DEFAULT NULL::numeric, step_up text DEFAULT NULL::text)
  RETURNS wallet.spend_result
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(wallet_id);
  SELECT * FROM wallet.spend(wallet_id, amount, idempotency_key, scene, coupon, allow_partial, payee, order_ref, max_charge, step_up);
$$;
GRANT EXECUTE ON FUNCTION wallet.spend(wallet_id bigint, amount numeric, idempotency_key text, scene text, coupon text, allow_partial boolean, payee bigint, order_ref text, max_charge numeric, step_up text) TO wallet_app;

CREATE FUNCTION wallet.spend_preview(wallet_id bigint, amount numeric, scene text DEFAULT NULL::text, coupon text DEFAULT NULL::text, max_charge numeric DEFAULT NULL::numeric)
  RETURNS TABLE(charged numeric, discount numeric, bonus_used numeric, cash_used numeric, earnings_used numeric, shortfall numeric, refusal text)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(wallet_id);
  SELECT * FROM wallet.spend_preview(wallet_id, amount, scene, coupon, max_charge);
$$;
GRANT EXECUTE ON FUNCTION wallet.spend_preview(wallet_id bigint, amount numeric, scene text, coupon text, max_charge numeric) TO wallet_app;

CREATE FUNCTION wallet.spend_split(wallet_id bigint, amount numeric, idempotency_key text, payees bigint[], shares numeric[], scene text DEFAULT NULL::text, coupon text DEFAULT NULL::text, order_ref text DEFAULT NULL::text)
  RETURNS wallet.spend_result
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(wallet_id);
  SELECT * FROM wallet.spend_split(wallet_id, amount, idempotency_key, payees, shares, scene, coupon, order_ref);
$$;
GRANT EXECUTE ON FUNCTION wallet.spend_split(wallet_id bigint, amount numeric, idempotency_key text, payees bigint[], shares numeric[], scene text, coupon text, order_ref text) TO wallet_app;

CREATE FUNCTION wallet.statement(wallet_id bigint, before_txn bigint DEFAULT NULL::bigint, max_rows integer DEFAULT 50, since timestamp with time zone DEFAULT NULL::timestamp with time zone)
  RETURNS TABLE(txn_id bigint, created_at timestamp with time zone, kind text, amount numeric, cash numeric, bonus numeric, earnings numeric, held numeric, debt numeric, available_after numeric, counterparty bigint, order_ref text, idempotency_key text)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(wallet_id);
  SELECT * FROM wallet.statement(wallet_id, before_txn, max_rows, since);
$$;
GRANT EXECUTE ON FUNCTION wallet.statement(wallet_id bigint, before_txn bigint, max_rows integer, since timestamp with time zone) TO wallet_admin, wallet_app;

CREATE FUNCTION wallet.submit_cards(wallet_id bigint, card_type text, face_values numeric[], card_secrets text[], idempotency_key text, quote_id bigint DEFAULT NULL::bigint, batch_ref text DEFAULT NULL::text)
  RETURNS TABLE(intake_id bigint, items integer, duplicates integer, quoted_total numeric, status text, replayed boolean)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(wallet_id);
  SELECT * FROM wallet.submit_cards(wallet_id, card_type, face_values, card_secrets, idempotency_key, quote_id, batch_ref);
$$;
GRANT EXECUTE ON FUNCTION wallet.submit_cards(wallet_id bigint, card_type text, face_values numeric[], card_secrets text[], idempotency_key text, quote_id bigint, batch_ref text) TO wallet_app;

CREATE FUNCTION wallet.top_up(wallet_id bigint, amount numeric, idempotency_key text, method text DEFAULT NULL::text, external_ref text DEFAULT NULL::text)
  RETURNS wallet.top_up_result
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(wallet_id);
  SELECT * FROM wallet.top_up(wallet_id, amount, idempotency_key, method, external_ref);
$$;
GRANT EXECUTE ON FUNCTION wallet.top_up(wallet_id bigint, amount numeric, idempotency_key text, method text, external_ref text) TO wallet_app;

CREATE FUNCTION wallet.transaction(txn_id bigint)
  RETURNS SETOF wallet.transaction_row
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(txn_id);
  SELECT * FROM wallet.transaction(txn_id);
$$;
GRANT EXECUTE ON FUNCTION wallet.transaction(txn_id bigint) TO wallet_admin, wallet_app;

CREATE FUNCTION wallet.transfer(from_wallet bigint, to_wallet bigint, amount numeric, idempotency_key text, kind text DEFAULT 'p2p'::text, note text DEFAULT NULL::text, step_up text DEFAULT NULL::text)
  RETURNS TABLE(txn_id bigint, amount numeric, fee numeric, replayed boolean)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(from_wallet);
  SELECT * FROM wallet.transfer(from_wallet, to_wallet, amount, idempotency_key, kind, note, step_up);
$$;
GRANT EXECUTE ON FUNCTION wallet.transfer(from_wallet bigint, to_wallet bigint, amount numeric, idempotency_key text, kind text, note text, step_up text) TO wallet_app;

CREATE FUNCTION wallet.unfreeze(wallet_id bigint)
  RETURNS void
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(wallet_id);
  SELECT * FROM wallet.unfreeze(wallet_id);
$$;
GRANT EXECUTE ON FUNCTION wallet.unfreeze(wallet_id bigint) TO wallet_admin;

CREATE FUNCTION wallet.validate_coupon(code text, wallet_id bigint, order_amount numeric, scene text DEFAULT NULL::text)
  RETURNS TABLE(valid boolean, discount numeric, reason text)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(wallet_id);
  SELECT * FROM wallet.validate_coupon(code, wallet_id, order_amount, scene);
$$;
GRANT EXECUTE ON FUNCTION wallet.validate_coupon(code text, wallet_id bigint, order_amount numeric, scene text) TO wallet_app;

CREATE FUNCTION wallet.verify_card(item_id bigint, valid boolean, actual_face numeric DEFAULT NULL::numeric, note text DEFAULT NULL::text)
  RETURNS TABLE(status text, payout numeric)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(item_id);
  SELECT * FROM wallet.verify_card(item_id, valid, actual_face, note);
$$;
GRANT EXECUTE ON FUNCTION wallet.verify_card(item_id bigint, valid boolean, actual_face numeric, note text) TO wallet_admin;

CREATE FUNCTION wallet.withdraw_quote(wallet_id bigint, amount numeric)
  RETURNS TABLE(amount numeric, fee numeric, net numeric, review boolean, daily_used numeric, daily_remaining numeric, refusal text)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(wallet_id);
  SELECT * FROM wallet.withdraw_quote(wallet_id, amount);
$$;
GRANT EXECUTE ON FUNCTION wallet.withdraw_quote(wallet_id bigint, amount numeric) TO wallet_admin, wallet_app;

CREATE FUNCTION wallet.withdrawals(wallet_id bigint)
  RETURNS TABLE(withdrawal_id bigint, status text, amount numeric, fee numeric, net numeric, destination text, method text, automatic boolean, requested_at timestamp with time zone, reviewed_at timestamp with time zone, settled_at timestamp with time zone, returned_at timestamp with time zone, reviewer text, gateway_ref text)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(wallet_id);
  SELECT * FROM wallet.withdrawals(wallet_id);
$$;
GRANT EXECUTE ON FUNCTION wallet.withdrawals(wallet_id bigint) TO wallet_admin, wallet_app;

