#!/usr/bin/env bash
# Installs what the tests need on a Debian machine (Dovecot, mbsync,
# offlineimap, Python), then runs every test with the race detector, and
# the sync scenario suite once more against mailsync serve.
# Usage: scripts/test.sh [go test flags...]
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ] || need+=(dovecot-imapd)
command -v mbsync >/dev/null 2>&1 || need+=(isync)
command -v offlineimap >/dev/null 2>&1 || need+=(offlineimap)
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
