#!/usr/bin/env bash
# Make sure PostgreSQL server binaries (initdb, pg_ctl, postgres, pg_basebackup) are installed:
# the emulator runs a real primary/standby pair as its Aurora stand-in. Installs Debian's
# `postgresql` package when they are missing. drlib finds them with drlib.emulator.pgbin.
set -euo pipefail
find_bin() {
  command -v pg_ctl >/dev/null 2>&1 && return 0
  ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1
}
if find_bin; then exit 0; fi
echo "PostgreSQL server binaries not found; installing Debian's postgresql package" >&2
if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: no apt-get here. Install PostgreSQL 14+ server binaries and put pg_ctl on PATH," >&2
  echo "       or set DRLIB_PG_BIN to the directory that holds initdb, pg_ctl and postgres." >&2
  exit 1
fi
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
find_bin
