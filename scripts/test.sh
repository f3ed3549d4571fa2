#!/usr/bin/env bash
# Installs what the tests need on a Debian machine (Dovecot, GNU Mailutils
# imap4d, mbsync, offlineimap, Python), then runs every test with the race
# detector, the sync scenario suite once more against mailsync serve, and
# each fuzz target for a few seconds.
# Usage: scripts/test.sh [go test flags...]
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ] || need+=(dovecot-imapd)
command -v mbsync >/dev/null 2>&1 || need+=(isync)
command -v offlineimap >/dev/null 2>&1 || need+=(offlineimap)
command -v imap4d >/dev/null 2>&1 || [ -x /usr/sbin/imap4d ] || need+=(mailutils-imap4d)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v python3 >/dev/null 2>&1 || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v go >/dev/null 2>&1 || { echo "scripts/test.sh: Go is not installed (https://go.dev/doc/install)" >&2; exit 1; }

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change:"; echo "$unformatted"; exit 1; fi
echo "== go vet"
go vet ./...
echo "== go test -race"
go test -race -count=1 -timeout 40m "$@" ./...
# The sync scenario suite a second time, against `mailsync serve` started
# in-process (no Dovecot, no root): about half a minute.
echo "== go test -race ./sync/... against mailsync serve"
MAILSYNC_TEST_SERVER=serve go test -race -count=1 -timeout 10m "$@" ./sync/...
# A count of executions, not a duration: with -fuzztime=3s, Go 1.26's
# coordinator can fail a target with a bare "context deadline exceeded" when
# its deadline races a busy worker (golang/go#75804, fixed in Go 1.27); a
# count has no deadline to race. 40,000 runs take 1-5 s per target here.
echo "== fuzz (40,000 runs per target; a failing input is saved under the package's testdata/fuzz: commit it)"
for target in ./imapconn:FuzzListGuard ./config:FuzzParse ./model:FuzzLineEndings \
  ./model:FuzzLocalFormWriter ./maildir:FuzzParseName ./maildir:FuzzDirName ./maildir:FuzzFolderName; do
  pkg=${target%%:*} name=${target##*:}
  go test -run='^$' -fuzz="^${name}\$" -fuzztime=40000x "$pkg"
done
