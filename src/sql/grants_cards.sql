------------------------------------------------------------------------------
-- Card intake (CONTRACT.md section 19): pg_dump keeps its tables and sequences; privileges
------------------------------------------------------------------------------
-- The key is dumped too: a restored database must hash a secret as the dumped one did, or a
-- card submitted before the dump would not be found a duplicate after the restore. It is the
-- key, not a secret: the secrets themselves are never stored.
SELECT pg_catalog.pg_extension_config_dump('wallet.card_type', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.card_rate', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.card_key', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.card_quotes', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.card_intake', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.card_item', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.card_rate_rate_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.card_quotes_quote_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.card_intake_intake_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.card_item_item_id_seq', '');

REVOKE ALL ON wallet.card_type, wallet.card_rate, wallet.card_key, wallet.card_quotes, wallet.card_intake,
  wallet.card_item FROM PUBLIC;
REVOKE ALL ON SEQUENCE wallet.card_rate_rate_id_seq, wallet.card_quotes_quote_id_seq,
  wallet.card_intake_intake_id_seq, wallet.card_item_item_id_seq FROM PUBLIC;
REVOKE ALL ON FUNCTION
  wallet._card_key_new(), wallet._card_type_check(), wallet._card_rate_check(), wallet._card_bad_setting(text),
  wallet.set_card_type(text, text, text, text, numeric[], numeric, numeric, int, numeric, numeric, boolean),
  wallet.add_card_rate(text, numeric, numeric, int, bigint, timestamptz, timestamptz),
  wallet.end_card_rate(bigint, timestamptz),
  wallet.card_quote(text, numeric, int, bigint),
  wallet.submit_cards(bigint, text, numeric[], text[], text, bigint, text),
  wallet.verify_card(bigint, boolean, numeric, text), wallet.settle_intake(bigint, text),
  wallet.review_intake(bigint, boolean, text, text), wallet.intakes(bigint), wallet.intake_items(bigint)
  FROM PUBLIC;
REVOKE ALL ON wallet_report.card_intake_daily FROM PUBLIC;

-- wallet_app: quotes, submits, settles a checked intake and lists; wallet_admin: the card types
-- and rates, the checks and the reviews (the application cannot check or approve its own cards);
-- wallet.card_key: nobody but the owner.
GRANT EXECUTE ON FUNCTION
  wallet.card_quote(text, numeric, int, bigint),
  wallet.submit_cards(bigint, text, numeric[], text[], text, bigint, text),
  wallet.settle_intake(bigint, text), wallet.intakes(bigint), wallet.intake_items(bigint)
  TO wallet_app;
GRANT EXECUTE ON FUNCTION
  wallet.set_card_type(text, text, text, text, numeric[], numeric, numeric, int, numeric, numeric, boolean),
  wallet.add_card_rate(text, numeric, numeric, int, bigint, timestamptz, timestamptz),
  wallet.end_card_rate(bigint, timestamptz),
  wallet.card_quote(text, numeric, int, bigint),
  wallet.verify_card(bigint, boolean, numeric, text), wallet.settle_intake(bigint, text),
  wallet.review_intake(bigint, boolean, text, text), wallet.intakes(bigint), wallet.intake_items(bigint)
  TO wallet_admin;
GRANT SELECT ON wallet.card_type, wallet.card_rate, wallet.card_intake TO wallet_admin;
GRANT SELECT ON wallet_report.card_intake_daily TO wallet_reader, wallet_admin;
