# wallet: PGXS build. `make demo` and `make test` set up everything on a fresh Debian bookworm machine.
EXTENSION   = wallet
EXTVERSION  = 0.2
MODULE_big  = wallet
OBJS        = $(patsubst %.c,%.o,$(wildcard src/*.c src/engine/*.c src/journal/*.c src/lotset/*.c src/store/*.c src/ops/*.c))
DATA_built  = $(EXTENSION)--$(EXTVERSION).sql wallet_router--$(EXTVERSION).sql
# the frozen install script of 0.1 and the upgrade scripts (hand-written; see README, Upgrades);
# the control file of the second extension, wallet_router (the router database of a sharded
# wallet: docs/scale-out.md), installed beside wallet's
DATA        = $(wildcard upgrade/$(EXTENSION)--*.sql) wallet_router.control
EXTRA_CLEAN = $(EXTENSION)--$(EXTVERSION).sql wallet_router--$(EXTVERSION).sql

REGRESS      = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --load-extension=$(EXTENSION)
ISOLATION      = $(patsubst specs/%.spec,%,$(sort $(wildcard specs/*.spec)))
ISOLATION_OPTS = --load-extension=$(EXTENSION)

PG_CONFIG ?= pg_config
# -Wno-unused-parameter: PostgreSQL's own headers and the fmgr calling convention trip it
PG_CFLAGS += -Wall -Wextra -Werror -Wno-unused-parameter
PG_CPPFLAGS += -I$(srcdir)/src

PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifeq ($(PGXS),)
# no server headers yet: only the set-up targets below work until `make deps` has run
all install installcheck:
	@echo "PostgreSQL 15 server headers are missing: run 'make deps' (or 'make test', which runs it)" >&2; exit 1
else
include $(PGXS)
# every object depends on the project's headers: a changed struct rebuilds every file
$(OBJS) $(OBJS:.o=.bc): $(wildcard src/*.h src/*/*.h)
endif

# The install script is built from its sources under src/sql/, one per concern, in this order
# (each may use what an earlier one made): the guard and roles; the lot set type and the pure
# engine functions; configuration and the tables; the operations by family (holds with their
# table); journal views and reconciliation; statements and status reads; repair and
# administration; rules, pg_dump and grants of part one; then
# reminders, alerts, audit, reports, archival, pg_cron, and part two's pg_dump and grants; last,
# the journal partitions an install makes.
SQL_PARTS = $(addprefix src/sql/,$(addsuffix .sql, \
	header roles report_schemas types engine config tables helpers \
	wallets topup spend refund holds group_pay transfers withdrawals cards exchange limits sweeps coupons \
	journal statement adjust admin shard outbox rules dump grants \
	reminders alerts audit reports_rollup reports reports_periods archival cron dump_logs grants_reports \
	grants_cards partitions_install))
$(EXTENSION)--$(EXTVERSION).sql: $(SQL_PARTS)
	cat $(SQL_PARTS) > $@

# The router's install script: the cluster and its routing, the relay and the cluster's books,
# the PL/Proxy functions (written by test/router/gen_proxies.sql from the wallet functions' own
# signatures), the grants.
# The roles are the wallet's own (src/sql/roles.sql), so that both extensions make the same ones.
ROUTER_PARTS = src/router/intro.sql src/sql/roles.sql $(addprefix src/router/,$(addsuffix .sql, header relay proxies grants))
wallet_router--$(EXTVERSION).sql: $(ROUTER_PARTS)
	cat $(ROUTER_PARTS) > $@

.PHONY: deps demo dashboard test bench bench-instructions soak fuzz
# deps installs the Debian packages the build and the suites need (as root).
deps:
	./test/run.sh deps
# demo builds, installs, starts a throwaway cluster and walks a story through every function.
demo:
	./test/run.sh demo
# dashboard writes a static page of trend charts from the report views, DASHBOARD_OUT (default
# dashboard/index.html): of database WALLET_DASHBOARD_DB if set, else of the demo's data.
DASHBOARD_OUT ?= dashboard/index.html
dashboard:
	./test/run.sh dashboard $(DASHBOARD_OUT)
# test builds, installs, starts a throwaway cluster and runs every suite.
test:
	./test/run.sh test
# bench runs the benchmark suite (test/bench/) on its own throwaway cluster.
bench:
	./test/run.sh bench
# bench-instructions counts the instructions a transaction of each benchmark script costs the
# server (valgrind's callgrind), on its own throwaway cluster: a figure the machine's noise leaves alone.
bench-instructions:
	./test/run.sh instructions
# soak runs the randomized model test for as long as asked: make soak SEED=42 STEPS=100000
soak:
	./test/run.sh soak $(SEED) $(STEPS)
# fuzz builds the libFuzzer targets (clang-14, installed if missing) and runs each FUZZ_SECONDS (default 60).
fuzz:
	./test/fuzz/run.sh
