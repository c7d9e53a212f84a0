#!/usr/bin/env bash
# The system packages `make test` and `make demo` need, checked before anything else runs.
#
#   scripts/system-deps.sh test|demo
#
# demo: Java 17+ and Maven (the local Kafka broker is resolved from Maven Central's jars), unless
#       KAFKA_BOOTSTRAP_SERVERS points at a broker that already runs.
# test: Java 17+ and Maven (the suite also tests the broker launcher itself), rsyslog,
#       rsyslog-gnutls and openssl (the syslog sink is tested against a real rsyslogd over TCP and
#       TLS), prometheus (promtool checks and unit-tests the alert rules; a real Prometheus scrapes a
#       worker), chromium and chromium-driver (the approval console is tested in a real headless
#       Chromium through Selenium). The chart and compose checkers (helm, kube-score, docker-compose) are built from the
#       Go module proxy by scripts/deploy-tools.sh, which `make test` runs next.
# both: python3, and python3-venv while the virtualenv does not exist (Debian's python3 lacks ensurepip).
#
# Everything present: silent, exit 0, a fraction of a second. Something missing: as root on a
# Debian/Ubuntu machine it is installed with apt-get; otherwise one line names the command to run
# and the exit code is 1, before any test starts.
#
# Test seams (tests/test_system_deps.py): PRISMAFLOW_DEPS_SBIN (where rsyslogd may live besides
# PATH) and PRISMAFLOW_DEPS_LIBDIRS (where rsyslog's modules may live).
set -euo pipefail

purpose="${1:-}"
case "$purpose" in
  test|demo) ;;
  *) echo "usage: scripts/system-deps.sh test|demo" >&2; exit 2 ;;
esac
sbin_dirs="${PRISMAFLOW_DEPS_SBIN:-/usr/sbin:/sbin}"
lib_dirs="${PRISMAFLOW_DEPS_LIBDIRS:-/usr/lib /usr/lib64 /lib}"
python="${PYTHON:-python3}"
venv="${VENV:-.venv}"

java_ok() {
  local java major
  for java in ${JAVA_HOME:+"$JAVA_HOME/bin/java"} "$(command -v java || true)"; do
    [ -n "$java" ] && [ -x "$java" ] || continue
    major="$("$java" -version 2>&1 | sed -n 's/.* version "\([0-9][0-9]*\)[."].*/\1/p' | sed -n 1p)"
    [ -n "$major" ] && [ "$major" -ge 17 ] && return 0
  done
  return 1
}

rsyslogd_ok() { PATH="$PATH:$sbin_dirs" command -v rsyslogd >/dev/null 2>&1; }

gtls_ok() {
  local dir
  for dir in $lib_dirs; do
    compgen -G "$dir/*/rsyslog/lmnsd_gtls.so" >/dev/null || compgen -G "$dir/rsyslog/lmnsd_gtls.so" >/dev/null \
      && return 0
  done
  return 1
}

java_package() {
  # The newest Java of the release that is at least 17 (Debian 12: 17, Debian 13: 21).
  local candidate
  for candidate in openjdk-17-jre-headless openjdk-21-jre-headless openjdk-25-jre-headless; do
    if apt-cache show "$candidate" >/dev/null 2>&1; then echo "$candidate"; return; fi
  done
  echo openjdk-17-jre-headless
}

missing() {
  need=()
  if [ "$purpose" = test ] || [ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" ]; then
    java_ok || need+=("$(java_package)")
    command -v mvn >/dev/null 2>&1 || need+=(maven)
  fi
  if [ "$purpose" = test ]; then
    rsyslogd_ok || need+=(rsyslog)
    gtls_ok || need+=(rsyslog-gnutls)
    command -v openssl >/dev/null 2>&1 || need+=(openssl)
    { command -v promtool && command -v prometheus; } >/dev/null 2>&1 || need+=(prometheus)
    command -v chromium >/dev/null 2>&1 || need+=(chromium)
    command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
  fi
  if ! command -v "$python" >/dev/null 2>&1; then
    need+=(python3 python3-venv)
  elif [ ! -x "$venv/bin/python" ] && ! "$python" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    need+=(python3-venv)
  fi
}

missing
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "make $purpose needs the system packages ${need[*]}: run 'sudo apt-get install -y ${need[*]}' (or run make $purpose as root, which installs them)" >&2
  else
    echo "make $purpose needs the system packages ${need[*]} (Debian names; Java 17 or newer): install them with your package manager" >&2
  fi
  exit 1
fi

echo "make $purpose: installing ${need[*]} with apt-get"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
missing  # the package lists may name a newer Java now
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
missing
if [ ${#need[@]} -gt 0 ]; then
  echo "make $purpose: still missing after apt-get install: ${need[*]}" >&2
  exit 1
fi
