#!/usr/bin/env bash
# Hash table benchmark: mailhorn map against Postfix's postmap, side by side
# on the same 1,000,000-entry source file.
#   build:  postmap hash:FILE        vs  mailhorn map hash:FILE
#   lookup: postmap -q - hash:FILE   vs  mailhorn map -q - hash:FILE
#           (one process each, 100,000 keys on stdin)
# then the in-process Go benchmark BenchmarkCDBLookup for reference.
# Usage: bench/maps/run.sh [entries] [lookups]   (run via `make bench-maps`)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
entries=${1:-1000000}
lookups=${2:-100000}
mailhorn=${MAILHORN:-$root/bin/mailhorn}

if [ ! -x /usr/bin/time ] || ! command -v postmap >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ]; then
		export DEBIAN_FRONTEND=noninteractive
		echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends time postfix >/dev/null
	else
		echo "bench-maps: needs /usr/bin/time and postmap (apt-get install time postfix)" >&2
		exit 1
	fi
fi
[ -x "$mailhorn" ] || (cd "$root" && go build -o "$mailhorn" ./cmd/mailhorn)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/pf" "$work/mh" "$work/conf"
touch -d '1 hour ago' "$work/conf/main.cf" # postmap pauses on a fresh main.cf

echo "generating $entries entries..." >&2
awk -v n="$entries" 'BEGIN { for (i = 0; i < n; i++) printf "user%d@example%d.com\tmailbox%d@store.example.net\n", i, i % 1000, i }' >"$work/pf/table"
cp "$work/pf/table" "$work/mh/table"
awk -v n="$entries" -v k="$lookups" 'BEGIN { srand(42); for (i = 0; i < k; i++) { j = int(rand() * n); if (i % 10 == 9) printf "missing%d@example.org\n", j; else printf "user%d@example%d.com\n", j, j % 1000 } }' >"$work/keys"

# measure LABEL CMD...: prints "LABEL seconds maxrss_kib"
measure() {
	local label=$1
	shift
	/usr/bin/time -f "%e %M" -o "$work/time" "$@" >"$work/out.$label" 2>"$work/err.$label" || {
		rc=$?
		[ "$rc" = 1 ] || { echo "$label failed ($rc):" >&2; cat "$work/err.$label" >&2; exit 1; }
	}
	read -r secs rss <"$work/time"
	printf '%-22s %8s s  %8s KiB max RSS\n' "$label" "$secs" "$rss"
	echo "$secs" >"$work/secs.$label"
}

sync
measure postmap-build postmap -c "$work/conf" hash:"$work/pf/table"
measure mailhorn-build "$mailhorn" map -c "$work/conf" hash:"$work/mh/table"
ls -l "$work/pf/table.db" "$work/mh/table.cdb" | awk '{ printf "%-40s %12d bytes\n", $NF, $5 }'
# Warm the page cache for both, then time the lookups.
cat "$work/pf/table.db" "$work/mh/table.cdb" >/dev/null
measure postmap-lookup sh -c "postmap -c '$work/conf' -q - hash:'$work/pf/table' <'$work/keys'"
measure mailhorn-lookup sh -c "'$mailhorn' map -c '$work/conf' -q - hash:'$work/mh/table' <'$work/keys'"
if ! cmp -s <(sort "$work/out.postmap-lookup") <(sort "$work/out.mailhorn-lookup"); then
	echo "lookup answers differ between postmap and mailhorn" >&2
	exit 1
fi
echo "answers identical: $(wc -l <"$work/out.mailhorn-lookup") keys found of $lookups"

ratio() { awk -v a="$(cat "$work/secs.$1")" -v b="$(cat "$work/secs.$2")" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "inf" }'; }
echo "build:  postmap/mailhorn time ratio $(ratio postmap-build mailhorn-build)"
echo "lookup: postmap/mailhorn time ratio $(ratio postmap-lookup mailhorn-lookup)"

echo "in-process lookup (Go benchmark, 1,000,000-entry CDB):"
(cd "$root" && go test ./internal/maps/ -run '^$' -bench '^BenchmarkCDBLookup$' -benchtime 2000000x | grep -E '^Benchmark')
