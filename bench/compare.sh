#!/usr/bin/env bash
# Compares mailsync with mbsync (isync) on the same Dovecot, in one run,
# and prints a Markdown table (README "Speed").
#
# On a Debian machine, as root (or a user who may sudo: Dovecot needs root): installs Dovecot and isync
# when missing, builds mailsync and bench/benchtool, starts a Dovecot on a
# free loopback port (mail processes run as the system user
# mailsyncbench), seeds a corpus of BENCH_MESSAGES messages (1 KiB to
# 5 MiB, attachments, five folders) and a tenth of it, and times both
# tools, each into its own Maildir and each against its own copy of the
# same server mailbox (same UIDs), so that neither sees the other's
# uploads:
#
#   initial        first download of N messages
#   noop           nothing changed (BENCH_REPEAT runs, interleaved; median)
#   server-delta   another client changed flags of pct/2 % and added pct/2 %
#                  (BENCH_REPEAT times, each followed by a run of each tool; median)
#   local-delta    the user toggled \Seen on pct/2 % of the files (renames)
#                  and pct/2 % new files appeared in new/ (BENCH_REPEAT times)
#   initial-N/10, noop-N/10   the same on a tenth of the corpus: does the
#                  cost of a no-op grow with the number of messages?
#
# Times are wall clock and CPU (user+system, getrusage) of the client
# process only: Dovecot's CPU is not counted for either. The page cache
# is warm. ratio = mailsync / mbsync: below 1, mailsync is faster.
#
# Environment: BENCH_MESSAGES (default 6000; 60000 for the big run),
# BENCH_REPEAT (no-op runs, default 3), BENCH_DELTA_PCT (default 1),
# BENCH_DIR (work directory, default a fresh one under /tmp, removed at
# the end unless BENCH_KEEP=1), BENCH_CORPUS (see below).
# Never run by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${BENCH_MESSAGES:-6000}
R=${BENCH_REPEAT:-3}
PCT=${BENCH_DELTA_PCT:-1}
SMALL=$((N / 10))
MAILUSER=mailsyncbench
PASS=bench

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
need=()
command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ] || need+=(dovecot-imapd)
command -v mbsync >/dev/null 2>&1 || need+=(isync)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v go >/dev/null 2>&1 || { echo "bench/compare.sh: Go is not installed (https://go.dev/doc/install)" >&2; exit 1; }
DOVECOT=$(command -v dovecot || echo /usr/sbin/dovecot)
MBSYNC=$(command -v mbsync)

W=${BENCH_DIR:-$(mktemp -d /tmp/mailsync-bench.XXXXXX)}
mkdir -p "$W"/bin "$W"/run "$W"/state "$W"/mail
chmod 755 "$W"
id "$MAILUSER" >/dev/null 2>&1 ||
  $sudo useradd --system --no-create-home --user-group --shell /usr/sbin/nologin "$MAILUSER"
uid=$(id -u "$MAILUSER") gid=$(id -g "$MAILUSER")
$sudo chown "$uid:$gid" "$W"/mail

echo "building into $W/bin"
go build -o "$W"/bin/mailsync ./cmd/mailsync
go build -o "$W"/bin/benchtool ./bench/benchtool
BT="$W"/bin/benchtool

PORT=$("$BT" freeport)
: >"$W"/passwd
for u in ms mb ms-small mb-small; do
  echo "$u:{PLAIN}$PASS:$uid:$gid::$W/mail/$u" >>"$W"/passwd
done
cat >"$W"/dovecot.conf <<EOF
# written by mailsync bench/compare.sh
base_dir = $W/run
state_dir = $W/state
instance_name = mailsync-bench-$PORT
log_path = $W/dovecot.log
listen = 127.0.0.1
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = dovenull
default_internal_user = dovecot
mail_uid = $uid
mail_gid = $gid
first_valid_uid = $uid
last_valid_uid = $uid
mail_location = maildir:$W/mail/%u
mail_fsync = never
login_trusted_networks =
auth_failure_delay = 0
shutdown_clients = yes
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $W/passwd
}
userdb {
  driver = passwd-file
  args = username_format=%u $W/passwd
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $PORT
  }
  inet_listener imaps {
    port = 0
  }
  chroot =
}
namespace inbox {
  separator = /
  prefix =
  inbox = yes
}
EOF

$sudo "$DOVECOT" -F -c "$W"/dovecot.conf >"$W"/dovecot.out 2>&1 &
DPID=$!
cleanup() {
  $sudo kill "$DPID" 2>/dev/null || true
  wait "$DPID" 2>/dev/null || true
  if [ "${BENCH_KEEP:-}" != 1 ]; then $sudo rm -rf "$W"; else echo "kept $W"; fi
}
trap cleanup EXIT
for _ in $(seq 100); do
  (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null && break
  sleep 0.1
done
(exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null || {
  echo "bench/compare.sh: dovecot did not start:"; cat "$W"/dovecot.out "$W"/dovecot.log 2>/dev/null; exit 1; }
ADDR=127.0.0.1:$PORT

# BENCH_CORPUS=DIR keeps a pristine copy of the seeded server mailboxes
# there (seeding 60,000 messages takes half an hour) and reuses it when it
# holds a corpus of the same size.
CORPUS=${BENCH_CORPUS:-}
if [ -n "$CORPUS" ] && [ "$(cat "$CORPUS/messages" 2>/dev/null)" = "$N" ]; then
  echo "copying the corpus of $N and $SMALL messages from $CORPUS"
  $sudo cp -a "$CORPUS"/ms "$CORPUS"/ms-small "$W"/mail/
else
  echo "seeding $N and $SMALL messages"
  "$BT" seed -addr "$ADDR" -user ms -pass "$PASS" -n "$N" -seed 1
  "$BT" seed -addr "$ADDR" -user ms-small -pass "$PASS" -n "$SMALL" -seed 1
  if [ -n "$CORPUS" ]; then
    $sudo rm -rf "$CORPUS" && mkdir -p "$CORPUS"
    $sudo cp -a "$W"/mail/ms "$W"/mail/ms-small "$CORPUS"/
    echo "$N" >"$CORPUS/messages"
  fi
fi
if [ "${BENCH_SEED_ONLY:-}" = 1 ]; then echo "seeded (BENCH_SEED_ONLY=1)"; exit 0; fi
# The same mailbox, UIDs included, for mbsync: copied before any login.
$sudo cp -a "$W"/mail/ms "$W"/mail/mb
$sudo cp -a "$W"/mail/ms-small "$W"/mail/mb-small
$sudo du -sh "$W"/mail/ms "$W"/mail/ms-small

# Clients: mailsync with its defaults; mbsync configured as in
# sync/bench_test.go.
for size in big small; do
  suffix=""; [ "$size" = small ] && suffix=-small
  mkdir -p "$W/c/$size/mailsync" "$W/c/$size/mbsync/Maildir"
  cat >"$W/c/$size/mailsync/config.toml" <<EOF
[accounts.bench]
host = "127.0.0.1"
port = $PORT
tls = "none"
user = "ms$suffix"
password_env = "BENCH_PASSWORD"
maildir = "$W/c/$size/mailsync/Maildir"
state = "$W/c/$size/mailsync/state.db"
EOF
  cat >"$W/c/$size/mbsync/mbsyncrc" <<EOF
IMAPAccount bench
Host 127.0.0.1
Port $PORT
User mb$suffix
Pass "$PASS"
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account bench

MaildirStore local
Inbox $W/c/$size/mbsync/Maildir
SubFolders Maildir++

Channel both
Far :remote:
Near :local:
Patterns *
Create Both
Sync All
SyncState *
EOF
done
export BENCH_PASSWORD=$PASS
RES="$W"/results LOG="$W"/clients.log
: >"$RES"

run_ms() { # run_ms STEP SIZE
  "$BT" measure -label "$1/mailsync" -out "$RES" -log "$LOG" -- \
    "$W"/bin/mailsync -q -c "$W/c/$2/mailsync/config.toml" sync bench
}
run_mb() {
  HOME="$W/c/$2/mbsync" "$BT" measure -label "$1/mbsync" -out "$RES" -log "$LOG" -- \
    "$MBSYNC" -q -c "$W/c/$2/mbsync/mbsyncrc" -a
}
run() { # run STEP SIZE [I]: both tools, mailsync first unless I is odd
  if [ $(( ${3:-0} % 2 )) = 1 ]; then run_mb "$1" "$2"; run_ms "$1" "$2"; else run_ms "$1" "$2"; run_mb "$1" "$2"; fi
}

# Each repeated step alternates which tool goes first; a delta step makes
# the same changes anew on both sides before each of its runs.
run initial big
for i in $(seq "$R"); do run noop big "$i"; done
for i in $(seq "$R"); do
  "$BT" server-delta -addr "$ADDR" -user ms -pass "$PASS" -pct "$PCT" -seed $((20 + i))
  "$BT" server-delta -addr "$ADDR" -user mb -pass "$PASS" -pct "$PCT" -seed $((20 + i))
  run server-delta big "$i"
done
for i in $(seq "$R"); do
  "$BT" local-delta -maildir "$W/c/big/mailsync/Maildir" -pct "$PCT" -seed $((30 + i))
  "$BT" local-delta -maildir "$W/c/big/mbsync/Maildir" -pct "$PCT" -seed $((30 + i))
  run local-delta big "$i"
done
run "initial-N/10" small
for i in $(seq "$R"); do run "noop-N/10" small "$i"; done

count() { find "$1" -type f \( -path '*/cur/*' -o -path '*/new/*' \) | wc -l; }
echo "messages at the end: mailsync's Maildir $(count "$W/c/big/mailsync/Maildir"), mbsync's $(count "$W/c/big/mbsync/Maildir")"
mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)
debian=$(cat /etc/debian_version 2>/dev/null || echo "?")
echo
echo "mailsync $(git describe --always --dirty 2>/dev/null || echo '?') vs $("$MBSYNC" --version 2>&1 | head -1), Dovecot $("$DOVECOT" --version 2>/dev/null | cut -d' ' -f1) on 127.0.0.1;" \
  "N = $N messages ($($sudo du -sh "$W"/mail/ms | cut -f1)), N/10 = $SMALL; delta $PCT %; $(nproc) CPUs, $mem, Debian $debian:"
echo
"$BT" report "$RES"
