\echo Use "ALTER EXTENSION wallet UPDATE TO '0.2'" to load this file. \quit

-- wallet 0.1 -> 0.2
