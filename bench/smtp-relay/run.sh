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
bench=smtp-relay
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"

bench_check postfix postconf smtp-source smtp-sink
id -u "$sink_user" >/dev/null 2>&1 || die "SINK_USER=$sink_user: no such account (smtp-sink drops root to it)"
bench_prepare

# The harness starts the sink on SINKPORT for each measured run; the server
# relays everything there.
run_postfix() {
	local run=$1 dir=$work/postfix-$1 port sinkport
	port=$("$harness" port)
	sinkport=$("$harness" port)
	postfix_instance "$dir" "$port" <<-EOF
		relayhost = [127.0.0.1]:$sinkport
	EOF
	start_postfix "$dir"
	measure postfix "Postfix $(postconf -d -h mail_version)" "$run" "$dir" "$port" \
		-sink "127.0.0.1:$sinkport" -sink-user "$sink_user" -mailboxes "$recipients" -pidfile "$dir/spool/pid/master.pid"
	stop_postfix "$dir/conf"
	[ -n "${KEEP:-}" ] || rm -rf "$dir/spool"
}

run_mailhorn() {
	local run=$1 dir=$work/mailhorn-$1 port sinkport
	port=$("$harness" port)
	sinkport=$("$harness" port)
	mailhorn_instance "$dir" "$port" <<-EOF
		relayhost = [127.0.0.1]:$sinkport
	EOF
	start_mailhorn "$dir"
	measure mailhorn mailhorn "$run" "$dir" "$port" \
		-sink "127.0.0.1:$sinkport" -sink-user "$sink_user" -mailboxes "$recipients" -pid "$running_mh"
	stop_mailhorn "$running_mh"
	[ -n "${KEEP:-}" ] || rm -rf "$dir/spool"
}

echo "smtp-relay: $messages messages of $size bytes, $sessions sessions, $recipients recipients, relayed to smtp-sink, $runs runs of: $systems" >&2
bench_main
