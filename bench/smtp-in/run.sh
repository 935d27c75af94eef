#!/usr/bin/env bash
# smtp-in benchmark: mailhorn against Postfix, side by side in one run.
#
# smtp-source (from the postfix package) sends MESSAGES messages of SIZE bytes
# over SESSIONS parallel SMTP sessions to MAILBOXES virtual mailboxes; the
# clock runs from before the first connection until every message is a file
# in a Maildir. Both servers keep their default durability (each fsyncs the
# queue file before "250" and the Maildir file before reporting delivery).
# Runs alternate, Postfix then mailhorn, RUNS times; the script prints each
# run and then a Markdown table of the medians (see docs/BENCHMARKS.md).
#
# Postfix runs as a second, private instance: its own config_directory,
# queue_directory and data_directory under a temporary work directory, no
# chroot, smtpd on a free port of 127.0.0.1 only. /etc/postfix and the
# system's instance are never touched; every instance started here is
# stopped on exit.
#
# Usage (as root): bench/smtp-in/run.sh        (or `make bench-smtp-in`)
# Environment:
#   MESSAGES=5000 SESSIONS=16 MAILBOXES=10 SIZE=4096 RUNS=3
#   SYSTEMS="postfix mailhorn"   which systems to run, in this order
#   BENCH_DIR=/var/tmp           where the work directory goes (not tmpfs:
#                                fsync costs nothing there)
#   BENCH_UID=65534 BENCH_GID=65534   owner of Postfix's mailboxes (>= 100)
#   MAILHORN=PATH                use this binary instead of building the tree's
#   KEEP=1                       keep the work directory (configs, logs, mail)
#   RESULTS=FILE                 also save the raw results (JSON lines) there
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
messages=${MESSAGES:-5000}
sessions=${SESSIONS:-16}
mailboxes=${MAILBOXES:-10}
size=${SIZE:-4096}
runs=${RUNS:-3}
systems=${SYSTEMS:-postfix mailhorn}
uid=${BENCH_UID:-65534}
gid=${BENCH_GID:-65534}
bench=smtp-in
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"

bench_check postfix postconf postmap smtp-source
[ "$uid" -ge 100 ] || die "BENCH_UID=$uid: Postfix's virtual(8) refuses mailbox uids below virtual_minimum_uid (100)"
bench_prepare

# vmailbox FILE: the virtual_mailbox_maps source, user1..userN.
vmailbox() {
	for i in $(seq "$mailboxes"); do echo "user$i@bench.test user$i/"; done >"$1"
}

run_postfix() {
	local run=$1 dir=$work/postfix-$1 port
	port=$("$harness" port)
	postfix_instance "$dir" "$port" <<-EOF
		virtual_mailbox_domains = bench.test
		virtual_mailbox_base = $dir/mail
		virtual_mailbox_maps = hash:$dir/conf/vmailbox
		virtual_uid_maps = static:$uid
		virtual_gid_maps = static:$gid
		virtual_minimum_uid = 100
	EOF
	mkdir -p "$dir/mail"
	chown "$uid:$gid" "$dir/mail"
	vmailbox "$dir/conf/vmailbox"
	postmap -c "$dir/conf" "hash:$dir/conf/vmailbox"
	start_postfix "$dir"
	measure postfix "Postfix $(postconf -d -h mail_version)" "$run" "$dir" "$port" \
		-mailbase "$dir/mail" -mailboxes "$mailboxes" -pidfile "$dir/spool/pid/master.pid"
	stop_postfix "$dir/conf"
	[ -n "${KEEP:-}" ] || rm -rf "$dir/mail" "$dir/spool"
}

run_mailhorn() {
	local run=$1 dir=$work/mailhorn-$1 port owner
	port=$("$harness" port)
	mailhorn_instance "$dir" "$port" <<-EOF
		virtual_mailbox_domains = bench.test
		virtual_mailbox_base = $dir/mail
		virtual_mailbox_maps = hash:$dir/conf/vmailbox
		virtual_uid_maps = static:$uid
		virtual_gid_maps = static:$gid
	EOF
	# Started as root, mailhorn drops to mail_owner and (until its delivery
	# runs as the table's uid) writes the Maildirs as that account.
	mkdir -p "$dir/mail"
	owner=$("$mailhorn" conf -c "$dir/conf" -h mail_owner)
	if id -u "$owner" >/dev/null 2>&1; then
		chown "$owner:$(id -g "$owner")" "$dir/mail"
	else
		chown "$uid:$gid" "$dir/mail"
	fi
	vmailbox "$dir/conf/vmailbox"
	"$mailhorn" map -c "$dir/conf" "hash:$dir/conf/vmailbox"
	start_mailhorn "$dir"
	measure mailhorn mailhorn "$run" "$dir" "$port" \
		-mailbase "$dir/mail" -mailboxes "$mailboxes" -pid "$running_mh"
	stop_mailhorn "$running_mh"
	[ -n "${KEEP:-}" ] || rm -rf "$dir/mail" "$dir/spool"
}

echo "smtp-in: $messages messages of $size bytes, $sessions sessions, $mailboxes mailboxes, $runs runs of: $systems" >&2
bench_main
