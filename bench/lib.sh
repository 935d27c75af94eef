# shellcheck shell=bash
# Shared by the benchmarks that run mailhorn against a private Postfix
# instance side by side (bench/smtp-in/run.sh, bench/smtp-relay/run.sh).
# Sourced, not run. The sourcing script sets, before it sources this file:
#   bench     its name (smtp-in, ...): message prefix, work directory name
#   root      the top of the tree
#   messages sessions size systems   the run's parameters
# and defines run_postfix RUN and run_mailhorn RUN, which bench_main calls.
# The functions here set the globals work, mailhorn, harness, results,
# running_pf (config_directory of the Postfix instance running now) and
# running_mh (PID of the mailhorn running now).

die() {
	echo "bench-$bench: $*" >&2
	exit 1
}

# bench_check TOOL...: root, the postfix package, TOOL..., go and the postfix
# user, or die.
bench_check() {
	[ "$(id -u)" = 0 ] || die "run as root: Postfix's master starts as root (a private instance in a temporary directory; /etc/postfix is not touched)"
	"$root/scripts/test-deps.sh" # installs postfix (unconfigured, not started) when missing
	for p in "$@"; do
		command -v "$p" >/dev/null 2>&1 || die "$p not found; install the postfix package (apt-get install postfix)"
	done
	command -v go >/dev/null 2>&1 || die "go not found; the harness and mailhorn are built with it"
	id -nu postfix >/dev/null 2>&1 || die "no postfix user; the postfix package creates it"
}

# stop_postfix CONF: stops the instance of config_directory CONF (whose
# queue_directory is CONF/../spool).
stop_postfix() {
	local conf=$1 pid
	pid=$(cat "$conf/../spool/pid/master.pid" 2>/dev/null || true)
	postfix -c "$conf" stop >/dev/null 2>&1 || true
	# postfix stop waits for the master; make sure, before the next run
	# wants the CPU and the port.
	if [ -n "$pid" ]; then
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
	fi
	running_pf=
}

stop_mailhorn() {
	local pid=$1
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$pid" 2>/dev/null && { echo "bench-$bench: mailhorn $pid ignored SIGTERM for 10 s; killing it" >&2; kill -KILL "$pid" 2>/dev/null; } || true
	wait "$pid" 2>/dev/null || true
	running_mh=
}

cleanup() {
	[ -z "$running_pf" ] || stop_postfix "$running_pf"
	[ -z "$running_mh" ] || stop_mailhorn "$running_mh"
	if [ -n "${KEEP:-}" ]; then
		echo "bench-$bench: work directory kept: $work" >&2
	else
		rm -rf "$work"
	fi
}

# bench_prepare: the work directory (removed on exit), mailhorn (when
# SYSTEMS has it) and the harness.
bench_prepare() {
	work=$(mktemp -d "${BENCH_DIR:-/var/tmp}/bench-$bench.XXXXXX")
	chmod 755 "$work" # the postfix user and the mailbox owner walk through it
	running_pf=
	running_mh=
	trap cleanup EXIT
	trap 'exit 130' INT TERM

	[ "$(stat -f -c %T "$work")" != tmpfs ] || die "$work is on tmpfs, where fsync is free; set BENCH_DIR to a directory on disk"

	echo "building mailhorn and the harness..." >&2
	# Build the tree as it is now (a stale bin/mailhorn would measure old
	# code) unless MAILHORN names a binary.
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
}

# measure SYSTEM LABEL RUN DIR PORT HARNESS-FLAG...: one timed run against a
# started server (the flags name the rest: mailboxes or sink, and the
# server's PID); shows the server's log when it fails.
measure() {
	local system=$1 label=$2 run=$3 dir=$4 port=$5
	shift 5
	sync # the previous run's writeback must not land in this one
	if ! "$harness" run -system "$system" -label "$label" -run "$run" -results "$results" \
		-addr "127.0.0.1:$port" -messages "$messages" -sessions "$sessions" -size "$size" "$@"; then
		echo "bench-$bench: $system run $run failed; last lines of its log ($dir):" >&2
		tail -n 20 "$dir"/maillog "$dir"/stderr >&2 2>/dev/null || true
		exit 1
	fi
}

# postfix_instance DIR PORT <MAIN.CF-LINES: the configuration of a private
# Postfix instance under DIR (conf, spool, data), smtpd on 127.0.0.1:PORT;
# stdin adds to main.cf.
postfix_instance() {
	local dir=$1 port=$2
	mkdir -p "$dir/conf" "$dir/spool" "$dir/data"
	chown postfix "$dir/data"
	{
		cat <<-EOF
			# Private benchmark instance (bench/$bench/run.sh); defaults otherwise.
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
			alias_maps =
			alias_database =
			maillog_file = $dir/maillog
			maillog_file_prefixes = $dir
		EOF
		cat
	} >"$dir/conf/main.cf"
	# The stock services, none chrooted, and smtpd on one loopback port
	# instead of port 25.
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
}

# start_postfix DIR: checks and starts the instance postfix_instance wrote.
start_postfix() {
	local dir=$1
	postfix -c "$dir/conf" check || die "postfix -c $dir/conf check failed (see above)"
	running_pf=$dir/conf
	postfix -c "$dir/conf" start >/dev/null 2>&1 || {
		tail -n 20 "$dir/maillog" >&2 2>/dev/null || true
		die "postfix -c $dir/conf start failed"
	}
}

# mailhorn_instance DIR PORT <MAIN.CF-LINES: the configuration of a mailhorn
# instance under DIR (conf, spool), smtpd on 127.0.0.1:PORT; stdin adds to
# main.cf.
mailhorn_instance() {
	local dir=$1 port=$2
	mkdir -p "$dir/conf" "$dir/spool"
	{
		cat <<-EOF
			# Benchmark instance (bench/$bench/run.sh); defaults otherwise.
			queue_directory = $dir/spool
			myhostname = bench.example
			mydestination =
			mynetworks = 127.0.0.0/8
			smtpd_relay_restrictions = permit_mynetworks, reject
			alias_maps =
			alias_database =
			maillog_file = $dir/maillog
		EOF
		cat
	} >"$dir/conf/main.cf"
	# smtpd on one loopback port instead of port 25; the other services are
	# mailhorn's defaults (those of an empty configuration directory).
	mkdir -p "$work/empty"
	{
		echo "127.0.0.1:$port inet n - n - - smtpd"
		"$mailhorn" conf -c "$work/empty" -M | grep -Ev '^smtp[[:space:]]+inet[[:space:]]'
	} >"$dir/conf/master.cf"
}

# start_mailhorn DIR: starts the instance mailhorn_instance wrote, in the
# background of this shell; its PID is running_mh.
start_mailhorn() {
	local dir=$1
	"$mailhorn" start-fg -c "$dir/conf" 2>"$dir/stderr" &
	running_mh=$!
}

# bench_main: RUNS rounds of SYSTEMS, then the table of the medians.
bench_main() {
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
}
