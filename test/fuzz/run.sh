#!/usr/bin/env bash
# Fuzz the wallet extension's C input parsing and money engine outside the
# server, with libFuzzer + ASan + UBSan (clang-14). `make fuzz` runs this.
#
#   test/fuzz/run.sh              build, check the shim, fuzz every target FUZZ_SECONDS
#   test/fuzz/run.sh build        build only (binaries in test/fuzz/build/)
#   test/fuzz/run.sh TARGET...    fuzz only these targets
#   test/fuzz/run.sh repro TARGET FILE...   run a target once over saved inputs
#   test/fuzz/run.sh valgrind     replay the kept corpus under valgrind (no sanitizers)
#   test/fuzz/run.sh coverage     line coverage of src/*.c by the corpus (llvm-cov-14)
#   test/fuzz/run.sh merge        minimize new finds into the kept corpus
#                                 (test/fuzz/corpus/<target>/) and regenerate
#                                 sql/fuzz_corpus.sql from corpus/lotset_in
#
# Knobs: FUZZ_SECONDS (default 60) per target; FUZZ_JOBS (default 1) parallel
# fuzzing processes per target; FUZZ_KEEP_MAX (default 300) inputs kept per
# target by merge; WALLET_FUZZ_STRICT=1 makes the known bugs
# listed in test/fuzz/README.md fatal instead of reported once.
#
# New inputs the fuzzer finds go to test/fuzz/build/corpus/<target>/ (not
# kept); crashes to test/fuzz/build/artifacts/. The kept corpus is only
# read, so a run never changes files under version control.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${FUZZ_BUILD:-$HERE/build}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
CC=${FUZZ_CC:-clang-14}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_JOBS=${FUZZ_JOBS:-1}
FUZZ_KEEP_MAX=${FUZZ_KEEP_MAX:-300}
TARGETS=(lotset_in lotset_recv money engine coupon)
# the extension's pure sources the targets link: lot I/O, money, the engine, coupon codes
LIB_SRCS=("$ROOT"/src/lotset/*.c "$ROOT/src/money.c" "$ROOT"/src/engine/*.c "$ROOT/src/coupon.c")
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

die() {
    echo "fuzz: $*" >&2
    exit 1
}

# lib_objs DIR: the object files of LIB_SRCS compiled into DIR
lib_objs() {
    local f
    for f in "${LIB_SRCS[@]}"; do echo "$1/$(basename "$f" .c).o"; done
}

# max input length per target
max_len() {
    case $1 in
    lotset_in) echo 2048 ;;
    lotset_recv) echo 2048 ;;
    money) echo 128 ;;
    engine) echo 1024 ;;
    coupon) echo 256 ;;
    esac
}

fuzzer_runtime() {
    local d
    for d in /usr/lib/llvm-14/lib/clang/14*/lib/linux; do
        [[ -f $d/libclang_rt.fuzzer-x86_64.a ]] && { echo "$d"; return 0; }
    done
    return 1
}

deps() {
    local pkgs=()
    command -v "$CC" >/dev/null 2>&1 || pkgs+=(clang-14)
    fuzzer_runtime >/dev/null || pkgs+=(libclang-rt-14-dev)
    if ((${#pkgs[@]})); then
        [[ $(id -u) -eq 0 ]] || die "missing ${pkgs[*]} and not root: sudo apt-get install -y ${pkgs[*]}"
        echo "fuzz: installing ${pkgs[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update >/dev/null || die "apt-get update failed"
        apt-get install -y "${pkgs[@]}" || die "apt-get install ${pkgs[*]} failed"
    fi
    # server headers and libpgcommon/libpgport come with postgresql-server-dev-15
    if [[ ! -x $PG_CONFIG || ! -f $("$PG_CONFIG" --pkglibdir)/libpgport.a ]]; then
        "$ROOT/test/run.sh" deps || die "PostgreSQL 15 development files are missing"
    fi
    command -v "$CC" >/dev/null 2>&1 || die "$CC not found after install"
    fuzzer_runtime >/dev/null || die "libFuzzer runtime not found after install"
}

build() {
    deps
    local inc lib cflags f t
    inc=$("$PG_CONFIG" --includedir-server)
    lib=$("$PG_CONFIG" --pkglibdir)
    mkdir -p "$BUILD/obj"
    # No -fwrapv (the server build has it): signed overflow is reported, as a bug.
    # shellcheck disable=SC2054 # the commas are in -fsanitize's argument
    # USE_ASSERT_CHECKING turns the engine's Assert()s on.
    cflags=(-g -O1 -fno-omit-frame-pointer -fno-strict-aliasing
        -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
        -DUSE_ASSERT_CHECKING -Wall -Wno-ignored-attributes -Wno-unused-function
        -I"$inc" -I"$ROOT/src" -I"$HERE")
    for f in "${LIB_SRCS[@]}" "$HERE"/shim.c \
        "$HERE"/fuzz_*.c; do
        "$CC" "${cflags[@]}" -c "$f" -o "$BUILD/obj/$(basename "$f" .c).o" || die "compiling $f failed"
    done
    local common
    mapfile -t common < <(lib_objs "$BUILD/obj")
    common+=("$BUILD/obj/shim.o"
        "$lib/libpgcommon.a" "$lib/libpgport.a" -lm)
    for t in "${TARGETS[@]}"; do
        "$CC" -fsanitize=fuzzer,address,undefined "$BUILD/obj/fuzz_$t.o" "${common[@]}" -o "$BUILD/fuzz_$t" ||
            die "linking fuzz_$t failed"
    done
    # the calendar check links the shim without libFuzzer's main
    "$CC" "${cflags[@]}" -fsanitize=address,undefined "$HERE/check_shim.c" "$BUILD/obj/shim.o" \
        "$lib/libpgcommon.a" "$lib/libpgport.a" -lm -o "$BUILD/check_shim" || die "linking check_shim failed"
    "$BUILD/check_shim" || die "the shim's calendar disagrees with the backend's"
    echo "fuzz: built ${TARGETS[*]} in $BUILD"
}

# fuzz TARGET: run it FUZZ_SECONDS over the kept corpus plus earlier finds
fuzz() {
    local t=$1 rc=0 dict=()
    [[ -x $BUILD/fuzz_$t ]] || die "unknown target $t (known: ${TARGETS[*]})"
    mkdir -p "$BUILD/corpus/$t" "$BUILD/artifacts" "$HERE/corpus/$t"
    [[ -f $HERE/$t.dict ]] && dict=(-dict="$HERE/$t.dict")
    echo
    echo "=== fuzz: $t for ${FUZZ_SECONDS}s ($(find "$HERE/corpus/$t" -type f | wc -l) kept inputs) ==="
    local args=(-max_total_time="$FUZZ_SECONDS" -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048
        -print_final_stats=1 -artifact_prefix="$BUILD/artifacts/$t-" "${dict[@]}")
    if ((FUZZ_JOBS > 1)); then
        args+=(-fork="$FUZZ_JOBS")
    fi
    # libFuzzer writes new inputs to the first directory only
    (cd "$BUILD" && ./"fuzz_$t" "${args[@]}" "$BUILD/corpus/$t" "$HERE/corpus/$t" 2>"$BUILD/$t.log") || rc=$?
    grep -E '^(stat::|wallet fuzz:|\*\*\*|SUMMARY|artifact_prefix|Done|#[0-9]+.*DONE|INFO: exiting)' "$BUILD/$t.log" |
        tail -n 20 || true
    grep -E '^#[0-9]+: cov' "$BUILD/$t.log" | tail -n 1 || true   # -fork mode
    if ((rc != 0)); then
        echo "--- fuzz: $t FOUND A PROBLEM (exit $rc); log: $BUILD/$t.log" >&2
        grep -A30 -E 'ERROR: (AddressSanitizer|libFuzzer|UndefinedBehaviorSanitizer)|runtime error|property violated' \
            "$BUILD/$t.log" | head -n 60 >&2 || true
        # shellcheck disable=SC2012 # artifact names are hex digests
        echo "--- reproduce: test/fuzz/run.sh repro $t $(ls -t "$BUILD"/artifacts/"$t"-* 2>/dev/null | head -n 1)" >&2
        return 1
    fi
    echo "--- fuzz: $t ok"
}

# coverage: line coverage of src/*.c reached by the kept corpus (plus new finds)
coverage() {
    build >/dev/null
    local inc lib cov=$BUILD/cov t f
    inc=$("$PG_CONFIG" --includedir-server)
    lib=$("$PG_CONFIG" --pkglibdir)
    mkdir -p "$cov"
    local cflags=(-g -O0 -fprofile-instr-generate -fcoverage-mapping -fsanitize=fuzzer-no-link
        -Wno-ignored-attributes -Wno-unused-function -I"$inc" -I"$ROOT/src" -I"$HERE")
    for f in "${LIB_SRCS[@]}" "$HERE"/shim.c \
        "$HERE"/fuzz_*.c; do
        "$CC" "${cflags[@]}" -c "$f" -o "$cov/$(basename "$f" .c).o" || die "compiling $f for coverage failed"
    done
    rm -f "$cov"/*.profraw
    local bins=()
    for t in "${TARGETS[@]}"; do
        # shellcheck disable=SC2046 # one word per object file
        "$CC" -fprofile-instr-generate -fsanitize=fuzzer "$cov/fuzz_$t.o" $(lib_objs "$cov") \
            "$cov/shim.o" "$lib/libpgcommon.a" "$lib/libpgport.a" -lm \
            -o "$cov/fuzz_$t" || die "linking coverage fuzz_$t failed"
        mkdir -p "$BUILD/corpus/$t"
        LLVM_PROFILE_FILE="$cov/$t.profraw" "$cov/fuzz_$t" -runs=0 "$HERE/corpus/$t" "$BUILD/corpus/$t" \
            >/dev/null 2>&1 || true
        bins+=(-object "$cov/fuzz_$t")
    done
    llvm-profdata-14 merge -sparse "$cov"/*.profraw -o "$cov/all.profdata"
    llvm-cov-14 report "${bins[@]:1}" -instr-profile="$cov/all.profdata" \
        "${LIB_SRCS[@]}"
    echo "fuzz: line by line: llvm-cov-14 show ${bins[*]:1} -instr-profile=$cov/all.profdata $ROOT/src/engine/*.c"
}

# valgrind: the targets built without sanitizers, run once over the corpus
# under memcheck (which also sees reads of uninitialized memory)
valgrind_replay() {
    build >/dev/null
    command -v valgrind >/dev/null 2>&1 || die "valgrind is not installed (apt-get install valgrind)"
    local inc lib plain=$BUILD/plain t f rc=0
    inc=$("$PG_CONFIG" --includedir-server)
    lib=$("$PG_CONFIG" --pkglibdir)
    mkdir -p "$plain"
    local cflags=(-gdwarf-4 -O1 -fno-omit-frame-pointer -fno-strict-aliasing -DUSE_ASSERT_CHECKING
        -Wno-ignored-attributes -Wno-unused-function -I"$inc" -I"$ROOT/src" -I"$HERE")
    for f in "${LIB_SRCS[@]}" "$HERE"/shim.c \
        "$HERE"/replay_main.c "$HERE"/fuzz_*.c; do
        "$CC" "${cflags[@]}" -c "$f" -o "$plain/$(basename "$f" .c).o" || die "compiling $f failed"
    done
    for t in "${TARGETS[@]}"; do
        # shellcheck disable=SC2046 # one word per object file
        "$CC" "$plain/fuzz_$t.o" "$plain/replay_main.o" $(lib_objs "$plain") \
            "$plain/shim.o" "$lib/libpgcommon.a" "$lib/libpgport.a" -lm -o "$plain/replay_$t" ||
            die "linking replay_$t failed"
        echo "=== valgrind: $t ($(find "$HERE/corpus/$t" -type f | wc -l) inputs) ==="
        if valgrind -q --error-exitcode=99 --track-origins=yes "$plain/replay_$t" "$HERE/corpus/$t" \
            2>"$BUILD/$t.valgrind.log"; then
            tail -n 1 "$BUILD/$t.valgrind.log"
        else
            rc=1
            echo "--- valgrind: $t FOUND A PROBLEM; log: $BUILD/$t.valgrind.log" >&2
            head -n 40 "$BUILD/$t.valgrind.log" >&2
        fi
    done
    return $rc
}

merge() {
    local t tmp n counters
    for t in "${TARGETS[@]}"; do
        [[ -d $BUILD/corpus/$t ]] || continue
        # the hand-made seeds stay (named); new finds join when they add coverage.
        # Fall back to edge coverage only (no hit counts) when that keeps too many.
        for counters in 1 0; do
            tmp=$(mktemp -d)
            cp "$HERE/corpus/$t"/seed-* "$tmp"/ 2>/dev/null || true
            (cd "$BUILD" && ./"fuzz_$t" -merge=1 -use_counters=$counters -max_len="$(max_len "$t")" "$tmp" \
                "$HERE/corpus/$t" "$BUILD/corpus/$t" 2>"$BUILD/$t.merge.log") ||
                die "merge of $t failed (see $BUILD/$t.merge.log)"
            n=$(find "$tmp" -type f | wc -l)
            ((n <= FUZZ_KEEP_MAX)) && break
            ((counters == 0)) || rm -rf "$tmp"
        done
        rm -rf "$HERE/corpus/$t"
        mkdir -p "$HERE/corpus/$t"
        cp "$tmp"/* "$HERE/corpus/$t/"
        rm -rf "$tmp"
        echo "fuzz: kept corpus of $t: $n inputs"
    done
    "$HERE/gen_corpus_sql.py" --prune
    echo "fuzz: regenerated sql/fuzz_corpus.sql; run it and update expected/fuzz_corpus.out (counts change)"
}

case ${1:-all} in
build)
    build
    ;;
repro)
    shift
    t=${1:?target}
    shift
    build >/dev/null
    WALLET_FUZZ_VERBOSE=1 "$BUILD/fuzz_$t" "$@"
    ;;
merge)
    build >/dev/null
    merge
    ;;
coverage)
    coverage
    ;;
valgrind)
    valgrind_replay
    ;;
all | *)
    [[ ${1:-all} == all ]] && set -- "${TARGETS[@]}"
    build
    failed=()
    for t in "$@"; do
        fuzz "$t" || failed+=("$t")
    done
    echo
    if ((${#failed[@]})); then
        echo "fuzz: FAILED: ${failed[*]} (artifacts in $BUILD/artifacts)"
        exit 1
    fi
    echo "fuzz: all targets ran ${FUZZ_SECONDS}s each without a crash, sanitizer report or property violation"
    known=$(for t in "$@"; do grep -ho 'known bug K[0-9]*' "$BUILD/$t.log" 2>/dev/null || true; done | sort -u | awk '{print $3}' | xargs)
    [[ -z $known ]] || echo "fuzz: known bugs seen (stepped around, see test/fuzz/README.md): $known"
    ;;
esac
