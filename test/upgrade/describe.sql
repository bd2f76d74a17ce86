-- describe.sql: every object that is a member of the wallet extension, with its full
-- definition, one normalized line each (sorted), so that two databases can be diffed:
-- functions (pg_get_functiondef: body, volatility, strictness, parallel safety,
-- SECURITY DEFINER, SET options; aggregates by their support functions), tables (columns
-- with types, defaults, identity, NOT NULL; constraints; indexes; triggers; partition key
-- and bounds; options; comments), views (definition), sequences, types, schemas, grants
-- (ACL entries, sorted), and pg_extension_config_dump entries. Used by test/suites/upgrade.sh.
\pset format unaligned
\pset tuples_only on
\pset pager off
WITH mem AS (
  SELECT d.classid, d.objid FROM pg_depend d
   WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
     AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'wallet')),
lines(l) AS (
  -- functions and procedures (not aggregates)
  SELECT 'function ' || p.oid::regprocedure || E'\n' || pg_get_functiondef(p.oid)
    FROM mem m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid WHERE p.prokind <> 'a'
  UNION ALL
  SELECT format('aggregate %s: sfunc %s stype %s finalfunc %s extra %s combine %s init %s',
                p.oid::regprocedure, a.aggtransfn::regprocedure, a.aggtranstype::regtype,
                a.aggfinalfn, a.aggfinalextra, a.aggcombinefn, a.agginitval)
    FROM mem m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
    JOIN pg_aggregate a ON a.aggfnoid = p.oid
  UNION ALL
  SELECT format('function %s: owner %s acl %s comment %s', p.oid::regprocedure, p.proowner::regrole,
                coalesce((SELECT string_agg(x::text, ' ' ORDER BY x::text) FROM unnest(p.proacl) x), 'default'),
                obj_description(p.oid, 'pg_proc'))
    FROM mem m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
  UNION ALL
  -- relations: kind, options, owner, ACL, comment, partitioning
  SELECT format('relation %s: kind %s persistence %s options %s owner %s acl %s comment %s partkey %s bound %s parent %s',
                c.oid::regclass, c.relkind, c.relpersistence, c.reloptions, c.relowner::regrole,
                coalesce((SELECT string_agg(x::text, ' ' ORDER BY x::text) FROM unnest(c.relacl) x), 'default'),
                obj_description(c.oid, 'pg_class'),
                CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END,
                pg_get_expr(c.relpartbound, c.oid),
                (SELECT i.inhparent::regclass FROM pg_inherits i WHERE i.inhrelid = c.oid))
    FROM mem m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
  UNION ALL
  -- columns, in order
  SELECT format('column %s.%s #%s: %s notnull %s default %s identity %s generated %s acl %s comment %s',
                c.oid::regclass, a.attname, a.attnum, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                pg_get_expr(ad.adbin, ad.adrelid), a.attidentity, a.attgenerated, a.attacl,
                col_description(c.oid, a.attnum))
    FROM mem m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
  UNION ALL
  SELECT format('constraint %s.%s: %s', c.oid::regclass, k.conname, pg_get_constraintdef(k.oid))
    FROM mem m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    JOIN pg_constraint k ON k.conrelid = c.oid
  UNION ALL
  SELECT format('index %s: %s', c.oid::regclass, pg_get_indexdef(i.indexrelid))
    FROM mem m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    JOIN pg_index i ON i.indrelid = c.oid
  UNION ALL
  SELECT format('trigger %s: %s enabled %s', c.oid::regclass, pg_get_triggerdef(t.oid), t.tgenabled)
    FROM mem m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    JOIN pg_trigger t ON t.tgrelid = c.oid AND NOT t.tgisinternal  -- foreign keys: listed as constraints
  UNION ALL
  SELECT format('view %s: %s', c.oid::regclass, pg_get_viewdef(c.oid))
    FROM mem m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
   WHERE c.relkind IN ('v', 'm')
  UNION ALL
  SELECT format('sequence %s: %s %s %s %s %s %s', s.seqrelid::regclass, s.seqtypid::regtype, s.seqstart,
                s.seqincrement, s.seqmax, s.seqmin, s.seqcycle)
    FROM mem m JOIN pg_sequence s ON m.classid = 'pg_class'::regclass AND s.seqrelid = m.objid
  UNION ALL
  -- types (composite types' attributes are listed as columns of their pg_class entry)
  SELECT format('type %s: type %s category %s input %s output %s receive %s send %s len %s align %s storage %s relation %s',
                t.oid::regtype, t.typtype, t.typcategory, t.typinput, t.typoutput, t.typreceive, t.typsend,
                t.typlen, t.typalign, t.typstorage, t.typrelid::regclass)
    FROM mem m JOIN pg_type t ON m.classid = 'pg_type'::regclass AND t.oid = m.objid
  UNION ALL
  SELECT format('column %s.%s #%s: %s', t.oid::regtype, a.attname, a.attnum, format_type(a.atttypid, a.atttypmod))
    FROM mem m JOIN pg_type t ON m.classid = 'pg_type'::regclass AND t.oid = m.objid
    JOIN pg_attribute a ON a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT format('schema %s: owner %s acl %s', n.nspname, n.nspowner::regrole,
                (SELECT string_agg(x::text, ' ' ORDER BY x::text) FROM unnest(n.nspacl) x))
    FROM mem m JOIN pg_namespace n ON m.classid = 'pg_namespace'::regclass AND n.oid = m.objid
  UNION ALL
  -- any other kind of member, by its description
  SELECT 'object ' || pg_describe_object(m.classid, m.objid, 0)
    FROM mem m WHERE m.classid NOT IN ('pg_proc'::regclass, 'pg_class'::regclass, 'pg_type'::regclass,
                                       'pg_namespace'::regclass)
  UNION ALL
  -- what pg_dump keeps of the extension's tables
  SELECT format('config_dump %s: %s', x.tab::regclass, x.cond)
    FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS x(tab, cond)
   WHERE e.extname = 'wallet'
  UNION ALL
  -- the schema wallet and its ACL (created by CREATE EXTENSION, whichever version)
  SELECT format('schema %s: owner %s acl %s', n.nspname, n.nspowner::regrole,
                (SELECT string_agg(x::text, ' ' ORDER BY x::text) FROM unnest(n.nspacl) x))
    FROM pg_namespace n WHERE n.nspname = 'wallet')
SELECT l FROM lines ORDER BY l;
