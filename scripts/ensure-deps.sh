#!/usr/bin/env bash
# Installs what Tether needs on a fresh Debian machine with Swift, and nothing that is already
# there. Usage: scripts/ensure-deps.sh run|test|bench|package|systemd
#   run     - what `tether serve` needs to build and run
#   test    - also the tools the test suite drives (real clients, real servers)
#   bench   - also the peers the benchmarks compare against
#   package - what `make package` needs to build the .deb (dpkg-shlibdeps, strip, and libcurl:
#             the static Foundation networking that `tether bench` uses links it)
#   systemd - also what `make test-systemd` needs to boot systemd in a container
set -euo pipefail
mode=${1:-run}

apt_run=(libsqlite3-dev pkg-config libsystemd-dev)
apt_test=(curl openssl python3-venv prometheus systemd util-linux postgresql chromium strace)
apt_bench=(mosquitto nats-server)
apt_package=(dpkg-dev binutils libcurl4-openssl-dev)
apt_systemd=(systemd-container debootstrap)

case "$mode" in
  run) apt=("${apt_run[@]}") ;;
  test) apt=("${apt_run[@]}" "${apt_test[@]}") ;;
  bench) apt=("${apt_run[@]}" "${apt_test[@]}" "${apt_bench[@]}") ;;
  package) apt=("${apt_run[@]}" "${apt_package[@]}") ;;
  systemd) apt=("${apt_run[@]}" "${apt_package[@]}" "${apt_systemd[@]}") ;;
  *) echo "usage: $0 run|test|bench|package|systemd" >&2; exit 2 ;;
esac

missing=()
for pkg in "${apt[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "ensure-deps: installing ${missing[*]}" >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$mode" = test ] || [ "$mode" = bench ]; then
  # Python test clients live in a project-local virtualenv, so the system Python is untouched.
  venv=.build-venv
  req=Tests/requirements.txt
  stamp="$venv/.requirements"
  if [ -f "$req" ] && ! cmp -s "$req" "$stamp" 2>/dev/null; then
    echo "ensure-deps: installing Python test clients from $req" >&2
    python3 -m venv "$venv" 2>/dev/null || python3 -m venv --without-pip "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
    cp "$req" "$stamp"
  fi
fi
