#!/usr/bin/env bash
# smtp-relay benchmark: mailhorn against Postfix, side by side in one run.
#
# smtp-source (from the postfix package) sends MESSAGES messages of SIZE bytes
# over SESSIONS parallel SMTP sessions to recipients in bench.test; the server
# relays everything (relayhost = [127.0.0.1]:SINKPORT, the client is in
# mynetworks) to one smtp-sink(1). The clock runs from before the first
# connection until smtp-sink has counted every message ("." received, its
# -c counters). Both servers keep their default durability: the queue file
# is fsynced before "250", and removed only after the sink's "250".
# Runs alternate, Postfix then mailhorn, RUNS times, each with a fresh
# instance and a fresh sink; the script prints each run and then a Markdown
# table of the medians (see docs/BENCHMARKS.md).
#
# The measuring is bench/smtp-in/harness in relay mode (`harness run -sink`):
# it starts smtp-sink, drives smtp-source, samples the server's memory and
# CPU, and checks that the sink received exactly MESSAGES messages.
#
# Postfix runs as a second, private instance: its own config_directory,
# queue_directory and data_directory under a temporary work directory, no
# chroot, smtpd on a free port of 127.0.0.1 only. /etc/postfix and the
# system's instance are never touched; every instance and sink started here
# is stopped on exit.
#
# Usage (as root): bench/smtp-relay/run.sh     (or `make bench-smtp-relay`)
# Environment:
#   MESSAGES=5000 SESSIONS=16 SIZE=4096 RUNS=3
#   RECIPIENTS=10                distinct recipients user1..N@bench.test
#   SYSTEMS="postfix mailhorn"   which systems to run, in this order
#   BENCH_DIR=/var/tmp           where the work directory goes (not tmpfs:
#                                fsync costs nothing there)
#   SINK_USER=nobody             the account smtp-sink drops to
#   MAILHORN=PATH                use this binary instead of building the tree's
#   KEEP=1                       keep the work directory (configs, logs)
#   RESULTS=FILE                 also save the raw results (JSON lines) there
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
messages=${MESSAGES:-5000}
sessions=${SESSIONS:-16}
recipients=${RECIPIENTS:-10}
size=${SIZE:-4096}
runs=${RUNS:-3}
systems=${SYSTEMS:-postfix mailhorn}
sink_user=${SINK_USER:-nobody}

die() {
	echo "bench-smtp-relay: $*" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || die "run as root: Postfix's master starts as root (a private instance in a temporary directory; /etc/postfix is not touched)"
"$root/scripts/test-deps.sh" # installs postfix (unconfigured, not started) when missing
for p in postfix postconf smtp-source smtp-sink; do
	command -v "$p" >/dev/null 2>&1 || die "$p not found; install the postfix package (apt-get install postfix)"
done
command -v go >/dev/null 2>&1 || die "go not found; the harness and mailhorn are built with it"
id -nu postfix >/dev/null 2>&1 || die "no postfix user; the postfix package creates it"
id -u "$sink_user" >/dev/null 2>&1 || die "SINK_USER=$sink_user: no such account (smtp-sink drops root to it)"

work=$(mktemp -d "${BENCH_DIR:-/var/tmp}/bench-smtp-relay.XXXXXX")
chmod 755 "$work"
running_pf= # config_directory of the Postfix instance running now
running_mh= # PID of the mailhorn running now

stop_postfix() {
	local conf=$1 pid
	pid=$(cat "$conf/../spool/pid/master.pid" 2>/dev/null || true)
	postfix -c "$conf" stop >/dev/null 2>&1 || true
	if [ -n "$pid" ]; then # make sure it is gone before the next run
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
	fi
	running_pf=
}

stop_mailhorn() {
	local pid=$1
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$pid" 2>/dev/null && { echo "bench-smtp-relay: mailhorn $pid ignored SIGTERM for 10 s; killing it" >&2; kill -KILL "$pid" 2>/dev/null; } || true
	wait "$pid" 2>/dev/null || true
	running_mh=
}

cleanup() {
	[ -z "$running_pf" ] || stop_postfix "$running_pf"
	[ -z "$running_mh" ] || stop_mailhorn "$running_mh"
	if [ -n "${KEEP:-}" ]; then
		echo "bench-smtp-relay: work directory kept: $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(stat -f -c %T "$work")" != tmpfs ] || die "$work is on tmpfs, where fsync is free; set BENCH_DIR to a directory on disk"

echo "building mailhorn and the harness..." >&2
mailhorn=${MAILHORN:-$work/mailhorn}
case " $systems " in
*" mailhorn "*)
	[ -n "${MAILHORN:-}" ] || (cd "$root" && go build -o "$mailhorn" ./cmd/mailhorn) || die "building mailhorn failed"
	[ -x "$mailhorn" ] || die "MAILHORN=$mailhorn is not an executable"
	"$mailhorn" help 2>&1 | grep -qw start-fg || die "$mailhorn has no start-fg command; SYSTEMS=postfix runs the Postfix half alone"
	;;
esac
(cd "$root" && go build -o "$work/harness" ./bench/smtp-in/harness)
harness=$work/harness
results=$work/results.jsonl

# measure SYSTEM LABEL RUN DIR PORT SINKPORT PIDFLAG...: one timed run
# against a started server; the harness starts the sink. Shows the server's
# log when it fails.
measure() {
	local system=$1 label=$2 run=$3 dir=$4 port=$5 sinkport=$6
	shift 6
	sync # the previous run's writeback must not land in this one
	if ! "$harness" run -system "$system" -label "$label" -run "$run" -results "$results" \
		-addr "127.0.0.1:$port" -sink "127.0.0.1:$sinkport" -sink-user "$sink_user" \
		-messages "$messages" -sessions "$sessions" -mailboxes "$recipients" -size "$size" "$@"; then
		echo "bench-smtp-relay: $system run $run failed; last lines of its log ($dir):" >&2
		tail -n 20 "$dir"/maillog "$dir"/stderr >&2 2>/dev/null || true
		exit 1
	fi
}

run_postfix() {
	local run=$1 dir=$work/postfix-$1 port sinkport
	port=$("$harness" port)
	sinkport=$("$harness" port)
	mkdir -p "$dir/conf" "$dir/spool" "$dir/data"
	chown postfix "$dir/data"
	cat >"$dir/conf/main.cf" <<-EOF
		# Private benchmark instance (bench/smtp-relay/run.sh); defaults otherwise.
		compatibility_level = 3.6
		queue_directory = $dir/spool
		data_directory = $dir/data
		mail_owner = postfix
		setgid_group = postdrop
		myhostname = bench.example
		mydestination =
		inet_interfaces = 127.0.0.1
		inet_protocols = ipv4
		mynetworks = 127.0.0.0/8
		smtpd_relay_restrictions = permit_mynetworks, reject
		relayhost = [127.0.0.1]:$sinkport
		alias_maps =
		alias_database =
		maillog_file = $dir/maillog
		maillog_file_prefixes = $dir
	EOF
	# The stock services, none chrooted, and smtpd on one loopback port.
	cat >"$dir/conf/master.cf" <<-EOF
		127.0.0.1:$port inet n - n - - smtpd
		pickup     unix  n - n 60    1 pickup
		cleanup    unix  n - n -     0 cleanup
		qmgr       unix  n - n 300   1 qmgr
		rewrite    unix  - - n -     - trivial-rewrite
		bounce     unix  - - n -     0 bounce
		defer      unix  - - n -     0 bounce
		trace      unix  - - n -     0 bounce
		verify     unix  - - n -     1 verify
		flush      unix  n - n 1000? 0 flush
		proxymap   unix  - - n -     - proxymap
		proxywrite unix  - - n -     1 proxymap
		smtp       unix  - - n -     - smtp
		relay      unix  - - n -     - smtp
		showq      unix  n - n -     - showq
		error      unix  - - n -     - error
		retry      unix  - - n -     - error
		discard    unix  - - n -     - discard
		local      unix  - n n -     - local
		virtual    unix  - n n -     - virtual
		lmtp       unix  - - n -     - lmtp
		anvil      unix  - - n -     1 anvil
		scache     unix  - - n -     1 scache
		postlog    unix-dgram n - n - 1 postlogd
	EOF
	postfix -c "$dir/conf" check || die "postfix -c $dir/conf check failed (see above)"
	running_pf=$dir/conf
	postfix -c "$dir/conf" start >/dev/null 2>&1 || {
		tail -n 20 "$dir/maillog" >&2 2>/dev/null || true
		die "postfix -c $dir/conf start failed"
	}
	measure postfix "Postfix $(postconf -d -h mail_version)" "$run" "$dir" "$port" "$sinkport" -pidfile "$dir/spool/pid/master.pid"
	stop_postfix "$dir/conf"
	[ -n "${KEEP:-}" ] || rm -rf "$dir/spool"
}

run_mailhorn() {
	local run=$1 dir=$work/mailhorn-$1 port sinkport
	port=$("$harness" port)
	sinkport=$("$harness" port)
	mkdir -p "$dir/conf" "$dir/spool"
	cat >"$dir/conf/main.cf" <<-EOF
		# Benchmark instance (bench/smtp-relay/run.sh); defaults otherwise.
		queue_directory = $dir/spool
		myhostname = bench.example
		mydestination =
		mynetworks = 127.0.0.0/8
		smtpd_relay_restrictions = permit_mynetworks, reject
		relayhost = [127.0.0.1]:$sinkport
		alias_maps =
		alias_database =
		maillog_file = $dir/maillog
	EOF
	# smtpd on one loopback port instead of port 25; the other services are
	# mailhorn's defaults (those of an empty configuration directory).
	mkdir -p "$work/empty"
	{
		echo "127.0.0.1:$port inet n - n - - smtpd"
		"$mailhorn" conf -c "$work/empty" -M | grep -Ev '^smtp[[:space:]]+inet[[:space:]]'
	} >"$dir/conf/master.cf"
	"$mailhorn" start-fg -c "$dir/conf" 2>"$dir/stderr" &
	running_mh=$!
	measure mailhorn mailhorn "$run" "$dir" "$port" "$sinkport" -pid "$running_mh"
	stop_mailhorn "$running_mh"
	[ -n "${KEEP:-}" ] || rm -rf "$dir/spool"
}

echo "smtp-relay: $messages messages of $size bytes, $sessions sessions, $recipients recipients, relayed to smtp-sink, $runs runs of: $systems" >&2
echo "work directory $work ($(stat -f -c %T "$work")), $(nproc) CPUs, $(uname -r), Postfix $(postconf -d -h mail_version), $(go version | cut -d' ' -f3)" >&2
for run in $(seq "$runs"); do
	for system in $systems; do
		case $system in
		postfix) run_postfix "$run" ;;
		mailhorn) run_mailhorn "$run" ;;
		*) die "SYSTEMS: unknown system $system (want postfix, mailhorn)" ;;
		esac
	done
done

echo
ratio=
if [[ " $systems " == *" postfix "* && " $systems " == *" mailhorn "* ]]; then
	ratio="-ratio mailhorn/postfix"
fi
# shellcheck disable=SC2086 # $ratio is two words or none
"$harness" table $ratio "$results"
[ -z "${RESULTS:-}" ] || cp "$results" "$RESULTS"
