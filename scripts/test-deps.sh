#!/usr/bin/env bash
# Installs, with apt-get, the real peers the test suite talks to when they are
# missing: Postfix (the reference for postconf/postmap/postalias behaviour and a
# peer MTA), swaks, sqlite3, PostgreSQL (the pgsql table tests run a private
# server). Postfix is installed unconfigured and never started.
set -euo pipefail

need=()
command -v postmap >/dev/null 2>&1 || need+=(postfix)
[ -e /usr/lib/postfix/postfix-pcre.so ] || need+=(postfix-pcre)
[ -e /usr/lib/postfix/postfix-sqlite.so ] || need+=(postfix-sqlite)
[ -e /usr/lib/postfix/postfix-pgsql.so ] || need+=(postfix-pgsql)
command -v initdb >/dev/null 2>&1 || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
command -v swaks >/dev/null 2>&1 || need+=(swaks)
command -v sqlite3 >/dev/null 2>&1 || need+=(sqlite3)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v pflogsumm >/dev/null 2>&1 || need+=(pflogsumm)
command -v s-nail >/dev/null 2>&1 || need+=(s-nail)
command -v msmtp >/dev/null 2>&1 || need+=(msmtp)
command -v dovecot >/dev/null 2>&1 || need+=(dovecot-core dovecot-lmtpd)
[ -x /usr/lib/dovecot/imap ] || need+=(dovecot-imapd)
[ -x /usr/lib/dovecot/pop3 ] || need+=(dovecot-pop3d)
command -v mbsync >/dev/null 2>&1 || need+=(isync)
command -v fetchmail >/dev/null 2>&1 || need+=(fetchmail)
command -v mutt >/dev/null 2>&1 || need+=(mutt)
[ -x /usr/bin/time ] || need+=(time)

if [ ${#need[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "test-deps: missing ${need[*]}; run as root to install them (tests needing them will skip, or fail under CI)" >&2
	exit 0
fi
echo "test-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
