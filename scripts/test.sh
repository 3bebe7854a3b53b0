#!/usr/bin/env bash
# Runs Picket's whole test suite, installing the external clients the tests use when missing.
# Tests that need a tool fail (never skip) when it is absent, so this installs them first.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v logger >/dev/null 2>&1 || need+=(bsdutils)
command -v snmptrap >/dev/null 2>&1 || need+=(snmp)
# The poller's tests run net-snmp's agent on loopback.
command -v snmpd >/dev/null 2>&1 || need+=(snmpd)
# TLS tests: certificates and a client (openssl), HTTPS (curl), the listen backlog (ss).
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v ss >/dev/null 2>&1 || need+=(iproute2)
command -v gnutls-cli >/dev/null 2>&1 || need+=(gnutls-bin)
# The dashboard's browser tests drive Debian's Chromium through ChromeDriver.
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
  fi
fi
# rsyslog (with its gtls and ossl TLS drivers) conflicts with syslog-ng as a Debian package, so
# it is not installed: its packages are unpacked into target/rsyslog/root, and the tests run
# rsyslogd from there (tests/common/mod.rs, rsyslogd()).
rsyslog_root=target/rsyslog/root
if [ ! -x "$rsyslog_root/usr/sbin/rsyslogd" ]; then
  mkdir -p target/rsyslog/debs
  pkgs=(rsyslog rsyslog-gnutls rsyslog-openssl libestr0 libfastjson4 liblognorm5)
  (cd target/rsyslog/debs && { apt-get download "${pkgs[@]}" 2>/dev/null || {
    if [ "$(id -u)" = 0 ]; then apt-get update -qq; else sudo apt-get update -qq; fi
    apt-get download "${pkgs[@]}"; }; })
  for f in target/rsyslog/debs/*.deb; do dpkg -x "$f" "$rsyslog_root"; done
fi
if [ ! -d ../shared/corpus ] && [ -z "${PICKET_CORPUS:-}" ]; then
  echo "test corpus not found: expected ../shared/corpus or \$PICKET_CORPUS" >&2
  exit 1
fi
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
# fuzz/ is a workspace of its own that --all-targets never builds: check that its targets
# still compile against the crate, so a rename cannot break them unseen.
cargo check --quiet --manifest-path fuzz/Cargo.toml --bins
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --all-targets 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line over every test binary (cargo prints one per target, the last often a
# target with no tests).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "total: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
