------------------------------------------------------------------------------
-- Refunds of a top-up
------------------------------------------------------------------------------

-- _topup returns a top-up transaction, or raises WL006.
CREATE FUNCTION wallet._topup(tid bigint) RETURNS wallet.txn
  LANGUAGE plpgsql STABLE AS $$
DECLARE
  t wallet.txn;
BEGIN
  IF tid IS NULL THEN PERFORM wallet._fail('22023', 'topup_txn_id must not be null'); END IF;
  SELECT * INTO t FROM wallet.txn x WHERE x.txn_id = tid AND x.kind = 'top_up';
  IF NOT FOUND THEN PERFORM wallet._fail('WL006', format('top-up %s does not exist', tid)); END IF;
  RETURN t;
END $$;

-- _reason checks a refund reason.
CREATE FUNCTION wallet._reason(reason text) RETURNS text
  LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF reason IS NULL OR reason NOT IN ('user', 'platform') THEN
    PERFORM wallet._fail('22023', 'reason must be ''user'' or ''platform''',
                         format('Got %s.', coalesce(quote_literal(left(reason, 50)), 'NULL')));
  END IF;
  RETURN reason;
END $$;

-- _fee_rate is the refund fee rate of a top-up for a reason.
CREATE FUNCTION wallet._fee_rate(t wallet.txn, reason text) RETURNS numeric
  LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN reason = 'platform' THEN 0::numeric
              ELSE least((wallet._policy(t.currency)).refund_fee_rate
                         + coalesce((t.result->>'campaign_fee_rate')::numeric, 0), 1) END
$$;

-- _topup_coupons lists the coupons a top-up issued (the codes its journal row recorded) that
-- a refund of it takes: kind 'void' for those still available at clk (the refund voids them),
-- 'claw' for those redeemed whose discount no refund has clawed back yet (with that discount).
-- Coupons issued by a top-up are part of its bonus value: the one list the netting and the
-- request both read.
CREATE FUNCTION wallet._topup_coupons(t wallet.txn, clk timestamptz)
  RETURNS TABLE (code text, kind text, discount bigint)
  LANGUAGE sql STABLE AS $$
  SELECT c.code, CASE WHEN c.redeemed_txn IS NULL THEN 'void' ELSE 'claw' END,
         CASE WHEN c.redeemed_txn IS NULL THEN 0 ELSE c.discount END
    FROM wallet.coupon c
   WHERE c.wallet_id = t.wallet_id
     AND c.code IN (SELECT jsonb_array_elements_text(coalesce(t.result->'coupons', '[]')))
     AND c.voided_at IS NULL
     AND ((c.redeemed_txn IS NULL AND (c.valid_until IS NULL OR c.valid_until > clk))
          OR (c.redeemed_txn IS NOT NULL AND c.clawback_refund IS NULL))
   ORDER BY c.code
$$;

-- _refund_netting is the netting of section 6 for top-up t of wallet w at clk: cash = c,
-- owed = T's bonus spent and not clawed back, coupon_owed = the discount of T's redeemed
-- coupons not clawed back (u = owed + coupon_owed), refundable = c - u (at least 0);
-- bonus_live and coupons_live are what a refund voids. in_window is false once the window closed.
CREATE FUNCTION wallet._refund_netting(w wallet.wallet, t wallet.txn, clk timestamptz,
  OUT in_window boolean, OUT cash bigint, OUT owed bigint, OUT coupon_owed bigint, OUT refundable bigint,
  OUT bonus_live bigint, OUT coupons_live int, OUT refundable_until timestamptz)
  LANGUAGE plpgsql STABLE AS $$
DECLARE
  i record := wallet.lots_refund_info(w.lots, t.txn_id, clk);
BEGIN
  in_window := i.found;
  cash := i.cash;
  owed := i.owed;
  bonus_live := i.bonus_live;
  refundable_until := coalesce(i.refundable_until, (t.result->>'refundable_until')::timestamptz);
  SELECT coalesce(sum(c.discount), 0)::bigint, count(*) FILTER (WHERE c.kind = 'void')
    INTO coupon_owed, coupons_live
    FROM wallet._topup_coupons(t, clk) c;
  IF NOT in_window THEN
    coupon_owed := 0;
    coupons_live := 0;
  END IF;
  refundable := greatest(cash - owed - coupon_owed, 0);
END $$;

CREATE FUNCTION wallet.refund_quote(topup_txn_id bigint, reason text DEFAULT 'user')
  RETURNS TABLE (max_amount numeric, bonus_clawback numeric, bonus_void numeric, fee_rate numeric,
                 refundable_until timestamptz, coupon_clawback numeric, coupons_voided int)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
#variable_conflict use_column
DECLARE
  t wallet.txn := wallet._topup(refund_quote.topup_txn_id);
  w wallet.wallet;
  n record;
BEGIN
  PERFORM wallet._reason(refund_quote.reason);
  SELECT * INTO w FROM wallet.wallet x WHERE x.wallet_id = t.wallet_id;
  n := wallet._refund_netting(w, t, wallet.clock());
  RETURN QUERY SELECT wallet.to_major(n.refundable, w.exponent),
    wallet.to_major(CASE WHEN n.refundable > 0 THEN n.owed ELSE 0 END, w.exponent),
    wallet.to_major(CASE WHEN n.refundable > 0 THEN n.bonus_live ELSE 0 END, w.exponent),
    wallet._fee_rate(t, refund_quote.reason), n.refundable_until,
    wallet.to_major(CASE WHEN n.refundable > 0 THEN n.coupon_owed ELSE 0 END, w.exponent),
    CASE WHEN n.refundable > 0 THEN n.coupons_live ELSE 0 END;
END $$;

CREATE FUNCTION wallet._request_refund(topup_txn_id bigint, idempotency_key text, amount_in numeric,
                                       reason text, note text,
  OUT refund_id bigint, OUT amount numeric, OUT fee numeric, OUT net numeric, OUT bonus_clawback numeric,
  OUT bonus_void numeric, OUT status text, OUT replayed boolean, OUT coupon_clawback numeric,
  OUT coupons_voided int)
  RETURNS SETOF record
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  k text := wallet._key(_request_refund.idempotency_key);
  t wallet.txn := wallet._topup(_request_refund.topup_txn_id);
  w wallet.wallet := wallet._lock(t.wallet_id);
  clk timestamptz := wallet.clock();
  pol wallet.policy := wallet._policy(w.currency);
  req jsonb;
  prior jsonb;
  asked bigint;
  amt bigint;
  n record;
  h record;
  take bigint;
  fee_m bigint;
  st text;
  rid bigint;
  tid bigint;
  recent int;
  legs wallet.posting[];
BEGIN
  PERFORM wallet._reason(_request_refund.reason);
  PERFORM wallet._text(_request_refund.note, 'note', 1000);
  IF _request_refund.amount_in IS NOT NULL THEN
    asked := wallet.to_minor(_request_refund.amount_in, w.exponent, 'amount');
  END IF;
  req := jsonb_build_object('topup_txn_id', t.txn_id, 'amount', asked, 'reason', _request_refund.reason,
                            'note', _request_refund.note);
  prior := wallet._replay(w.wallet_id, k, 'request_refund', req);
  IF prior IS NOT NULL THEN
    RETURN QUERY SELECT r.refund_id, wallet.to_major(r.amount, w.exponent), wallet.to_major(r.fee, w.exponent),
      wallet.to_major(r.net, w.exponent), wallet.to_major(r.clawback, w.exponent),
      wallet.to_major(r.bonus_void, w.exponent), (prior->>'status'), true,
      wallet.to_major(r.coupon_clawback, w.exponent), r.coupons_voided
      FROM wallet.refund r WHERE r.refund_id = (prior->>'refund_id')::bigint;
    RETURN;
  END IF;
  IF w.frozen THEN
    PERFORM wallet._fail('WL002', format('wallet %s is frozen', w.wallet_id), w.frozen_reason);
  END IF;

  -- the request is validated first (state, window, amount): an invalid one is refused with its
  -- own error, and never counted, flagged or recorded as a rejected refund
  IF EXISTS (SELECT 1 FROM wallet.refund r WHERE r.topup_txn = t.txn_id AND r.status IN ('pending', 'approved')) THEN
    PERFORM wallet._fail('WL008', format('a refund of top-up %s is already in progress', t.txn_id),
                         hint => 'Settle, reject or fail it first.');
  END IF;
  n := wallet._refund_netting(w, t, clk);
  IF NOT n.in_window THEN
    PERFORM wallet._fail('WL004', 'refund not allowed: the refund window has closed',
      format('Top-up %s was refundable until %s.', t.txn_id, t.result->>'refundable_until'));
  END IF;
  IF n.refundable <= 0 THEN
    PERFORM wallet._fail('WL004', 'refund not allowed: nothing is refundable',
      format('Top-up %s has %s of cash left and %s of its bonus and coupons spent.', t.txn_id,
             wallet.to_major(n.cash, w.exponent), wallet.to_major(n.owed + n.coupon_owed, w.exponent)));
  END IF;
  IF asked > n.refundable THEN
    PERFORM wallet._fail('WL004', 'refund not allowed: amount above what is refundable',
      format('At most %s of top-up %s is refundable.', wallet.to_major(n.refundable, w.exponent), t.txn_id));
  END IF;
  amt := coalesce(asked, n.refundable);

  tid := nextval(pg_get_serial_sequence('wallet.txn', 'txn_id'));
  -- beyond the per-wallet limit the attempt is recorded, rejected, and flagged
  SELECT count(*) INTO recent FROM wallet.refund r
   WHERE r.wallet_id = w.wallet_id AND r.requested_at > clk - interval '30 days'
     AND r.requested_at <= clk AND r.reviewer IS DISTINCT FROM 'limit';
  IF recent >= pol.max_refunds_per_30_days THEN
    INSERT INTO wallet.refund (wallet_id, topup_txn, request_txn, reason, amount, fee, net, clawback,
                               bonus_void, status, note, reviewer, review_note, requested_at, reviewed_at)
    VALUES (w.wallet_id, t.txn_id, tid, _request_refund.reason, coalesce(asked, 0), 0, 0, 0, 0, 'rejected',
            _request_refund.note, 'limit',
            format('%s refund requests in 30 days; the limit is %s', recent, pol.max_refunds_per_30_days),
            clk, clk)
    RETURNING refund_id INTO rid;
    INSERT INTO wallet.risk_flag (wallet_id, kind, detail, created_at)
    VALUES (w.wallet_id, 'refund_limit',
            format('refund request %s beyond %s per 30 days', rid, pol.max_refunds_per_30_days), clk);
    INSERT INTO wallet.txn (txn_id, wallet_id, kind, amount, currency, created_at, idempotency_key, ref_txn,
                            request, result)
    VALUES (tid, w.wallet_id, 'request_refund', 0, w.currency, clk, k, t.txn_id, req,
            jsonb_build_object('refund_id', rid, 'status', 'rejected'));
    INSERT INTO wallet.txn_key VALUES (w.wallet_id, k, tid, clk);
    RETURN QUERY SELECT rid, wallet.to_major(coalesce(asked, 0), w.exponent), wallet.to_major(0, w.exponent),
      wallet.to_major(0, w.exponent), wallet.to_major(0, w.exponent), wallet.to_major(0, w.exponent),
      'rejected'::text, false, wallet.to_major(0, w.exponent), 0;
    RETURN;
  END IF;

  -- the hold: the amount, the bonus clawback and the coupons' clawback from T's cash, and
  -- T's live bonus
  take := amt + n.owed + n.coupon_owed;
  fee_m := least(wallet.rate_amount(amt, wallet._fee_rate(t, _request_refund.reason)), amt);
  h := wallet.lots_refund_hold(w.lots, t.txn_id, take, n.owed, clk);
  -- net at or below the auto-approve limit (compared exactly, in minor units) needs no review
  st := CASE WHEN amt - fee_m <= floor(pol.refund_auto_approve_max * (10::numeric ^ w.exponent))
             THEN 'approved' ELSE 'pending' END;
  INSERT INTO wallet.refund (wallet_id, topup_txn, request_txn, reason, amount, fee, net, clawback, bonus_void,
                             status, note, requested_at, reviewer, reviewed_at, coupon_clawback, coupons_voided)
  VALUES (w.wallet_id, t.txn_id, tid, _request_refund.reason, amt, fee_m, amt - fee_m, n.owed, h.bonus_held,
          st, _request_refund.note, clk, CASE WHEN st = 'approved' THEN 'auto' END,
          CASE WHEN st = 'approved' THEN clk END, n.coupon_owed, n.coupons_live)
  RETURNING refund_id INTO rid;
  -- T's available coupons are voided and its redeemed ones' discount is clawed back, by this
  -- refund (a rejected or failed one gives both back)
  UPDATE wallet.coupon c
     SET voided_at = CASE WHEN x.kind = 'void' THEN clk END,
         void_refund = CASE WHEN x.kind = 'void' THEN rid END,
         clawback_refund = CASE WHEN x.kind = 'claw' THEN rid END
    FROM wallet._topup_coupons(t, clk) x
   WHERE c.code = x.code;
  legs := wallet._legs(ROW('wallet', w.wallet_id, 'cash', -take)::wallet.posting,
                       ROW('wallet', w.wallet_id, 'bonus', -h.bonus_held)::wallet.posting,
                       ROW('wallet', w.wallet_id, 'held', take + h.bonus_held)::wallet.posting);
  INSERT INTO wallet.txn (txn_id, wallet_id, kind, amount, currency, created_at, idempotency_key, ref_txn,
                          request, result, postings)
  VALUES (tid, w.wallet_id, 'request_refund', amt, w.currency, clk, k, t.txn_id, req,
          jsonb_build_object('refund_id', rid, 'status', st), legs);
  INSERT INTO wallet.txn_key VALUES (w.wallet_id, k, tid, clk);
  PERFORM wallet._save(w.wallet_id, h.lots);
  RETURN QUERY SELECT rid, wallet.to_major(amt, w.exponent), wallet.to_major(fee_m, w.exponent),
    wallet.to_major(amt - fee_m, w.exponent), wallet.to_major(n.owed, w.exponent),
    wallet.to_major(h.bonus_held, w.exponent), st, false, wallet.to_major(n.coupon_owed, w.exponent),
    n.coupons_live;
END $$;

CREATE FUNCTION wallet.request_refund(topup_txn_id bigint, idempotency_key text, amount numeric DEFAULT NULL,
                                      reason text DEFAULT 'user', note text DEFAULT NULL)
  RETURNS TABLE (refund_id bigint, amount numeric, fee numeric, net numeric, bonus_clawback numeric,
                 bonus_void numeric, status text, replayed boolean, coupon_clawback numeric,
                 coupons_voided int)
  LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp
  AS $$ SELECT * FROM wallet._request_refund($1, $2, $3, $4, $5) $$;

-- _refund_move ends a refund's hold (release or settle), journals it and sets its status.
-- A release (rejected, failed) gives back exactly what the request took: the held cash and
-- bonus, the coupons it voided (those past their validity show as expired) and the coupon
-- discount it clawed back (owed again by the top-up). A settlement posts the coupons'
-- clawback back to coupon_expense, where their discount was posted when they were redeemed.
CREATE FUNCTION wallet._refund_move(rid bigint, kind text, new_status text, release boolean,
                                    extra jsonb) RETURNS text
  LANGUAGE plpgsql AS $$
DECLARE
  r wallet.refund;
  w wallet.wallet;
  clk timestamptz := wallet.clock();
  ls wallet.lotset;
  take bigint;
  legs wallet.posting[];
BEGIN
  SELECT * INTO r FROM wallet.refund x WHERE x.refund_id = rid;
  w := wallet._lock(r.wallet_id);
  SELECT * INTO r FROM wallet.refund x WHERE x.refund_id = rid FOR UPDATE;
  take := r.amount + r.clawback + r.coupon_clawback;
  IF release THEN
    ls := wallet.lots_refund_release(w.lots, r.topup_txn, take, r.clawback, r.bonus_void, clk);
    legs := wallet._legs(ROW('wallet', w.wallet_id, 'held', -(take + r.bonus_void))::wallet.posting,
                         ROW('wallet', w.wallet_id, 'cash', take)::wallet.posting,
                         ROW('wallet', w.wallet_id, 'bonus', r.bonus_void)::wallet.posting);
    UPDATE wallet.coupon c SET voided_at = NULL, void_refund = NULL
     WHERE c.void_refund = rid AND c.wallet_id = r.wallet_id;
    UPDATE wallet.coupon c SET clawback_refund = NULL
     WHERE c.clawback_refund = rid AND c.wallet_id = r.wallet_id;
  ELSE
    ls := wallet.lots_refund_settle(w.lots, r.topup_txn, take, r.clawback, r.bonus_void, clk);
    legs := wallet._legs(ROW('wallet', w.wallet_id, 'held', -(take + r.bonus_void))::wallet.posting,
                         ROW('refund_payout', NULL, NULL, r.net)::wallet.posting,
                         ROW('fee_income', NULL, NULL, r.fee)::wallet.posting,
                         ROW('bonus_expense', NULL, NULL, r.clawback + r.bonus_void)::wallet.posting,
                         ROW('coupon_expense', NULL, NULL, r.coupon_clawback)::wallet.posting);
  END IF;
  INSERT INTO wallet.txn (wallet_id, kind, amount, currency, created_at, ref_txn, request, result, postings)
  VALUES (w.wallet_id, kind, r.amount, w.currency, clk, r.topup_txn,
          extra || jsonb_build_object('refund_id', rid), jsonb_build_object('status', new_status), legs);
  PERFORM wallet._save(w.wallet_id, ls);
  RETURN new_status;
END $$;

CREATE FUNCTION wallet.review_refund(refund_id bigint, approve boolean, reviewer text, note text DEFAULT NULL)
  RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
#variable_conflict use_column
DECLARE
  r wallet.refund;
  clk timestamptz := wallet.clock();
BEGIN
  IF review_refund.refund_id IS NULL THEN PERFORM wallet._fail('22023', 'refund_id must not be null'); END IF;
  IF review_refund.approve IS NULL THEN PERFORM wallet._fail('22023', 'approve must not be null'); END IF;
  PERFORM wallet._text(review_refund.reviewer, 'reviewer', 200, true);
  PERFORM wallet._text(review_refund.note, 'note', 1000);
  SELECT * INTO r FROM wallet.refund x WHERE x.refund_id = review_refund.refund_id;
  IF NOT FOUND THEN
    PERFORM wallet._fail('WL006', format('refund %s does not exist', review_refund.refund_id));
  END IF;
  PERFORM wallet._lock(r.wallet_id);
  SELECT * INTO r FROM wallet.refund x WHERE x.refund_id = review_refund.refund_id FOR UPDATE;
  IF r.status = 'pending' THEN
    IF review_refund.approve THEN
      INSERT INTO wallet.txn (wallet_id, kind, amount, currency, created_at, ref_txn, request, result)
      SELECT r.wallet_id, 'review_refund', r.amount, w.currency, clk, r.topup_txn,
             jsonb_build_object('refund_id', r.refund_id, 'approve', true, 'reviewer', review_refund.reviewer),
             jsonb_build_object('status', 'approved')
        FROM wallet.wallet w WHERE w.wallet_id = r.wallet_id;
    ELSE
      PERFORM wallet._refund_move(r.refund_id, 'review_refund', 'rejected', true,
        jsonb_build_object('approve', false, 'reviewer', review_refund.reviewer));
    END IF;
    UPDATE wallet.refund x
       SET status = CASE WHEN review_refund.approve THEN 'approved' ELSE 'rejected' END,
           reviewer = review_refund.reviewer, review_note = review_refund.note, reviewed_at = clk
     WHERE x.refund_id = r.refund_id;
    RETURN CASE WHEN review_refund.approve THEN 'approved' ELSE 'rejected' END;
  END IF;
  IF review_refund.approve AND r.status IN ('approved', 'succeeded', 'failed') THEN
    RETURN r.status;
  END IF;
  IF NOT review_refund.approve AND r.status = 'rejected' THEN
    RETURN r.status;
  END IF;
  PERFORM wallet._fail('WL008', format('refund %s is %s', r.refund_id, r.status),
    format('It cannot be %s now.', CASE WHEN review_refund.approve THEN 'approved' ELSE 'rejected' END));
  RETURN NULL;
END $$;

CREATE FUNCTION wallet.settle_refund(refund_id bigint, succeeded boolean, gateway_ref text DEFAULT NULL)
  RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
#variable_conflict use_column
DECLARE
  r wallet.refund;
  target text;
BEGIN
  IF settle_refund.refund_id IS NULL THEN PERFORM wallet._fail('22023', 'refund_id must not be null'); END IF;
  IF settle_refund.succeeded IS NULL THEN PERFORM wallet._fail('22023', 'succeeded must not be null'); END IF;
  PERFORM wallet._text(settle_refund.gateway_ref, 'gateway_ref', 200);
  SELECT * INTO r FROM wallet.refund x WHERE x.refund_id = settle_refund.refund_id;
  IF NOT FOUND THEN
    PERFORM wallet._fail('WL006', format('refund %s does not exist', settle_refund.refund_id));
  END IF;
  PERFORM wallet._lock(r.wallet_id);
  SELECT * INTO r FROM wallet.refund x WHERE x.refund_id = settle_refund.refund_id FOR UPDATE;
  target := CASE WHEN settle_refund.succeeded THEN 'succeeded' ELSE 'failed' END;
  IF r.status = target THEN
    RETURN r.status;
  END IF;
  IF r.status <> 'approved' THEN
    PERFORM wallet._fail('WL008', format('refund %s is %s', r.refund_id, r.status),
                         'Only an approved refund can be settled.');
  END IF;
  PERFORM wallet._refund_move(r.refund_id, 'settle_refund', target, NOT settle_refund.succeeded,
    jsonb_build_object('succeeded', settle_refund.succeeded, 'gateway_ref', settle_refund.gateway_ref));
  UPDATE wallet.refund x SET status = target, gateway_ref = settle_refund.gateway_ref,
         settled_at = wallet.clock()
   WHERE x.refund_id = r.refund_id;
  RETURN target;
END $$;

