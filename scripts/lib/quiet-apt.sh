# Sourced by scripts/clamd, scripts/slapd, scripts/dnsmasq and scripts/test: installs Debian
# packages for the tests without leaving any system service running or enabled (issue 12,
# item 10). The tests start private daemons of their own; the packages' system services
# (clamav-daemon, clamav-freshclam, slapd) are never wanted.
#
#   apt_install_quietly "svc1 svc2" pkg1 pkg2 ...
#
# While apt runs, a policy-rc.d refuses every service start (Debian's invoke-rc.d asks it);
# one already there is left as it is. Afterwards each named service is recorded as ours,
# stopped if it runs and disabled, under systemd or SysV init alike.

apt_install_quietly() {
  local services="$1"; shift
  local sudo="" rc=0
  [ "$(id -u)" = 0 ] || sudo="sudo"
  (
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
      # Removed however this ends (an error, Ctrl-C): a policy left behind would refuse
      # every service start on the machine from then on.
      trap '$sudo rm -f "$policy"' EXIT
      trap 'exit 130' INT TERM
      printf '#!/bin/sh\n# placed by gestore scripts/lib/quiet-apt.sh while installing\nexit 101\n' \
        | $sudo tee "$policy" >/dev/null || exit 1
      $sudo chmod 755 "$policy" || exit 1
    fi
    $sudo apt-get update -qq || exit $?
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" \
      >/dev/null || exit $?
  ) || rc=$?
  remember_services "$services"
  quiet_services "$services"
  return "$rc"
}

# The system services of packages these scripts installed: only those are stopped, disabled
# and checked by scripts/test; a developer's own clamav-daemon or slapd is left alone.
GESTORE_SERVICES_FILE="${XDG_STATE_HOME:-$HOME/.local/state}/gestore/installed-services"

remember_services() {
  local s
  [ -n "$1" ] || return 0
  mkdir -p "$(dirname "$GESTORE_SERVICES_FILE")"
  for s in $1; do
    grep -qsx "$s" "$GESTORE_SERVICES_FILE" || echo "$s" >>"$GESTORE_SERVICES_FILE"
  done
}

# Prints the services remember_services recorded, on one line.
installed_services() {
  [ -f "$GESTORE_SERVICES_FILE" ] && tr '\n' ' ' <"$GESTORE_SERVICES_FILE" || true
}

# Stops and disables each of the named system services; silent when one does not exist.
quiet_services() {
  local sudo="" s
  [ "$(id -u)" = 0 ] || sudo="sudo"
  for s in $1; do
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
      $sudo systemctl stop "$s" >/dev/null 2>&1 || true
      $sudo systemctl disable "$s" >/dev/null 2>&1 || true
    else
      [ -x "/etc/init.d/$s" ] && $sudo "/etc/init.d/$s" stop >/dev/null 2>&1 || true
      command -v update-rc.d >/dev/null 2>&1 \
        && $sudo update-rc.d "$s" disable >/dev/null 2>&1 || true
    fi
  done
}

# Remembers a private daemon a test started, so scripts/test can stop it should the test die
# without stopping it ($GESTORE_DAEMONS names the list; unset outside scripts/test).
# Each line holds the process id and its start time, so a process id reused since is never
# taken for the daemon.
register_daemon() {
  [ -n "${GESTORE_DAEMONS:-}" ] && [ -n "$1" ] || return 0
  echo "$1 $(started_at "$1")" >>"$GESTORE_DAEMONS"
}

# The start time of process $1 (clock ticks since boot, /proc/PID/stat field 22), or nothing.
started_at() {
  sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20
}

# Prints each of the named system services that runs or is enabled; returns 1 if any does.
services_on() {
  local s on=0
  for s in $1; do
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
      systemctl is-active --quiet "$s" 2>/dev/null && { echo "$s is running"; on=1; }
      [ "$(systemctl is-enabled "$s" 2>/dev/null)" = enabled ] && { echo "$s is enabled"; on=1; }
    else
      if [ -x "/etc/init.d/$s" ] && "/etc/init.d/$s" status >/dev/null 2>&1; then
        echo "$s is running"; on=1
      fi
      if ls /etc/rc[2-5].d/S??"$s" >/dev/null 2>&1; then
        echo "$s is enabled"; on=1
      fi
    fi
  done
  return "$on"
}
