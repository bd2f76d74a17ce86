------------------------------------------------------------------------------
-- Rules on the extension's tables are refused
------------------------------------------------------------------------------
-- The C operations write wallet.wallet, wallet.txn, wallet.txn_key, wallet.payee_credit and wallet.txn_party
-- straight into the heap (no rewriter) and with INSERT ... ON CONFLICT (which a rule forbids):
-- a rule would be skipped by one backend and break another. CREATE RULE on a table of the
-- schema is refused here (WL008); every operation also refuses to run while such a rule
-- exists (one made while this trigger did not fire), in every backend alike: the C ones
-- before they prepare or write anything, those in SQL in wallet.open and wallet._lock.
CREATE FUNCTION wallet._refuse_rule() RETURNS event_trigger
  AS 'MODULE_PATHNAME', 'wallet_refuse_rule' LANGUAGE C;
CREATE EVENT TRIGGER wallet_refuse_rule ON ddl_command_start WHEN TAG IN ('CREATE RULE')
  EXECUTE FUNCTION wallet._refuse_rule();

