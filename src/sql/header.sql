\echo Use "CREATE EXTENSION wallet" to load this file. \quit

-- wallet 0.2: the stored-value wallet engine.
-- The money rules are C functions over a wallet's lots (type wallet.lotset);
-- the operations below lock one wallet row, apply them, write the row back and
-- append one journal row (wallet.txn) carrying its double-entry postings.

