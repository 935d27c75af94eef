#!/usr/bin/env bash
# imap-fetch benchmark: mailhorn's imapd against Dovecot's imap, side by
# side in one run, over two copies of one generated Maildir.
#
# The driver (bench/imap-fetch/driver) writes a Maildir of MESSAGES
# realistic messages (1-50 KB, plain and multipart, several recipients;
# deterministic for SEED), which is copied into two identical trees, one
# per server (both write their index files there and rename files on
# STORE). A private Dovecot (dovecot-imapd) and a mailhorn (start-fg with
# an imapd service) are started, each with the user "bench" whose home is
# its tree (passwd-file, {PLAIN} password, mail_location = maildir:~).
# Each round is one IMAP session of the driver (go-imap's client, the same
# for both): LOGIN+SELECT, FETCH 1:* (UID FLAGS ENVELOPE RFC822.SIZE
# INTERNALDATE), UID SEARCH HEADER Subject WORD, UID FETCH BODY.PEEK[] of
# 1,000 messages, STORE 1:* +FLAGS.SILENT (\Flagged), STORE 1:*
# -FLAGS.SILENT (\Flagged) (which restores the tree), each timed, each
# answer checked. "cold" is the first round after the server started on
# its fresh tree (no index yet), after dropping the page cache; "warm" are
# the RUNS rounds after it, Dovecot and mailhorn alternating. The table
# gives the cold times, the warm medians, the ratios mailhorn / Dovecot
# (lower is better for mailhorn) and the peak RSS (see docs/BENCHMARKS.md).
#
# Dovecot runs as a private instance: its own base_dir, state_dir and log
# under a temporary work directory, IMAP on a free port of 127.0.0.1 only.
# /etc/dovecot and any system instance are never touched; every server
# started here is stopped on exit.
#
# Usage (as root): bench/imap-fetch/run.sh   (or `make bench-imap-fetch`)
# Environment:
#   MESSAGES=10000 RUNS=5 SEED=1
#   BENCH_DIR=/var/tmp           where the work directory goes (not tmpfs)
#   MAILHORN=PATH                use this binary instead of building the tree's
#   KEEP=1                       keep the work directory (configs, logs, trees)
#   RESULTS=FILE                 also save the raw results (JSON lines) there
#   PERF=1                       record mailhorn's warm rounds with perf(1)
#                                (perf.data in the work directory; implies KEEP)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
messages=${MESSAGES:-10000}
runs=${RUNS:-5}
seed=${SEED:-1}
systems="dovecot mailhorn" # bench_prepare builds mailhorn when this has it
bench=imap-fetch
password=bench-password
[ -z "${PERF:-}" ] || KEEP=1
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"

[ "$(id -u)" = 0 ] || die "run as root: Dovecot's master starts as root, and the page cache is dropped for the cold round (a private instance in a temporary directory; /etc/dovecot is not touched)"
if [ ! -x /usr/lib/dovecot/imap ] || ! command -v dovecot >/dev/null 2>&1; then
	echo "bench-$bench: installing dovecot-imapd..." >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dovecot-imapd >/dev/null ||
		die "dovecot-imapd is missing and apt-get install failed"
fi
command -v go >/dev/null 2>&1 || die "go not found; the driver and mailhorn are built with it"
[ -z "${PERF:-}" ] || command -v perf >/dev/null 2>&1 || die "PERF=1: perf not found (apt-get install linux-perf)"

bench_prepare # work directory, mailhorn, the smtp-in harness (for `harness port`)
(cd "$root" && go build -o "$work/driver" ./bench/imap-fetch/driver) || die "building the driver failed"
driver=$work/driver
running_dc=
perf_pid=
trap 'stop_perf; stop_dovecot; cleanup' EXIT

stop_dovecot() {
	[ -n "$running_dc" ] || return 0
	local pid
	pid=$(cat "$work/srv-dovecot/run/master.pid" 2>/dev/null || true)
	dovecot -c "$running_dc" stop >/dev/null 2>&1 || true
	if [ -n "$pid" ]; then
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
	fi
	running_dc=
}

stop_perf() {
	[ -n "$perf_pid" ] || return 0
	kill -INT "$perf_pid" 2>/dev/null || true
	wait "$perf_pid" 2>/dev/null || true
	perf_pid=
}

# The mail system runs as mail_owner, which owns both trees (Dovecot's user
# gets the same uid, so that neither server pays for a permission the
# other does not).
mkdir -p "$work/empty"
owner=$("$mailhorn" conf -c "$work/empty" -h mail_owner)
id -u "$owner" >/dev/null 2>&1 || die "mail_owner $owner: no such account (useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin $owner)"
uid=$(id -u "$owner")
gid=$(id -g "$owner")

echo "imap-fetch: generating $messages messages (seed $seed)..." >&2
"$driver" gen -dir "$work/src/Maildir" -manifest "$work/manifest.json" -messages "$messages" -seed "$seed"
for s in dovecot mailhorn; do
	mkdir -p "$work/srv-$s"
	cp -a "$work/src/Maildir" "$work/srv-$s/home"
	chown -R "$uid:$gid" "$work/srv-$s/home"
	echo "bench:{PLAIN}$password:$uid:$gid::$work/srv-$s/home::" >"$work/srv-$s/users"
done
rm -rf "$work/src"
echo "imap-fetch: $(du -sh "$work/srv-dovecot/home" | cut -f1) per tree" >&2

# Dovecot: a private instance, IMAP on 127.0.0.1:dport without TLS.
dport=$("$harness" port)
dir=$work/srv-dovecot
mkdir -p "$dir/run" "$dir/state"
cat >"$dir/dovecot.conf" <<EOF
# Private Dovecot for bench/imap-fetch/run.sh; Dovecot's defaults otherwise.
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/dovecot.log
instance_name = mailhorn-bench-imap
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
first_valid_uid = 1
mail_location = maildir:~
passdb {
  driver = passwd-file
  args = $dir/users
}
userdb {
  driver = passwd-file
  args = $dir/users
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $dport
  }
  inet_listener imaps {
    port = 0
  }
}
EOF
chmod 644 "$dir/users"
running_dc=$dir/dovecot.conf
dovecot -c "$dir/dovecot.conf" >"$dir/stdout" 2>&1 || {
	cat "$dir/stdout" "$dir/dovecot.log" >&2 2>/dev/null || true
	die "dovecot -c $dir/dovecot.conf failed"
}

# mailhorn: the defaults of lib.sh's mailhorn_instance (its smtpd on a free
# port, unused) plus an imapd service on 127.0.0.1:mport without TLS.
mport=$("$harness" port)
dir=$work/srv-mailhorn
mailhorn_instance "$dir" "$("$harness" port)" <<EOF
auth_user_maps = passwd-file:$dir/users
mail_location = maildir:~
imapd_tls_auth_only = no
EOF
echo "127.0.0.1:$mport inet n - n - - imapd" >>"$dir/conf/master.cf"
chown "root:$gid" "$dir/users"
chmod 640 "$dir/users"
start_mailhorn "$dir"

dovecot_version=$(dovecot --version | cut -d' ' -f1)
echo "work directory $work ($(stat -f -c %T "$work")), $(nproc) CPUs, $(uname -r), Dovecot $dovecot_version, $(go version | cut -d' ' -f3)" >&2

results=$work/results.jsonl
# measure SYSTEM KIND ROUND: one round of the driver against SYSTEM (this
# benchmark's own, in place of lib.sh's smtp-source measure).
measure() {
	local system=$1 kind=$2 round=$3
	local args=(-system "$system" -kind "$kind" -round "$round" -password "$password"
		-manifest "$work/manifest.json" -results "$results")
	case $system in
	dovecot) args+=(-label "Dovecot $dovecot_version" -addr "127.0.0.1:$dport" -pidfile "$work/srv-dovecot/run/master.pid" -serving imap) ;;
	mailhorn) args+=(-label mailhorn -addr "127.0.0.1:$mport" -pid "$running_mh") ;;
	esac
	if ! "$driver" run "${args[@]}"; then
		echo "bench-$bench: $system $kind round $round failed; last lines of its log:" >&2
		tail -n 20 "$work/srv-$system/dovecot.log" "$work/srv-$system/maillog" "$work/srv-$system/stderr" >&2 2>/dev/null || true
		exit 1
	fi
}

# drop_caches: the page cache, so that the cold round reads the files from
# disk (both servers' trees; said once whether it was possible).
dropped=
drop_caches() {
	sync
	if echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; then
		dropped=yes
	else
		[ -n "$dropped" ] || echo "bench-$bench: cannot write /proc/sys/vm/drop_caches (container?): the cold rounds read from the page cache" >&2
		dropped=no
	fi
}

echo "imap-fetch: cold rounds (fresh trees, no index; page cache dropped before each)" >&2
drop_caches
measure dovecot cold 0
drop_caches
measure mailhorn cold 0
echo "imap-fetch: $runs warm rounds each, alternating" >&2
if [ -n "${PERF:-}" ]; then
	# The mail system is the child of the privileged parent; record both.
	perf record -F 999 -g -p "$(pgrep -d, -P "$running_mh"),$running_mh" -o "$work/perf.data" >/dev/null 2>&1 &
	perf_pid=$!
	sleep 1
fi
for r in $(seq "$runs"); do
	measure dovecot warm "$r"
	measure mailhorn warm "$r"
done
stop_perf

echo
echo "page cache dropped for the cold rounds: $dropped"
"$driver" table -ratio mailhorn/dovecot "$results"
[ -z "${RESULTS:-}" ] || cp "$results" "$RESULTS"
[ -z "${PERF:-}" ] || echo "bench-$bench: perf data of mailhorn's warm rounds: $work/perf.data (perf report -i $work/perf.data --no-children)" >&2
