#!/usr/bin/env bash
# Installs the validators tests/unit/test_deploy_files.py runs, and the Prometheus server
# tests/integration/test_prometheus.py scrapes a live worker with, into .cache/tools/ (idempotent):
#   .cache/tools/bin/promtool, prometheus  from Debian's `prometheus` package (unpacked, not
#                                          installed: no service, no dependencies; both binaries
#                                          are self-contained)
#   .cache/tools/bin/kubernetes-validate   from PyPI, in its own venv; bundles the Kubernetes JSON
#                                          schemas, so validation needs no network
#   chromium                               Debian's `chromium` package, installed system-wide (it
#                                          needs its shared libraries); the downloaded .debs are
#                                          kept in .cache/tools/apt-archives for the next install.
#                                          tests/unit/tools/test_backtest_html.py renders a report in it
# Needs: apt-get (with `apt-get update` rights when the package lists are empty) and python3.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS="${REACHWATCH_TOOLS:-$ROOT/.cache/tools}"
KUBERNETES_VALIDATE_VERSION="1.37.0"
PYTHON="${PYTHON:-python3}"
mkdir -p "$TOOLS/bin"

install_promtool() {
    if "$TOOLS/bin/promtool" --version >/dev/null 2>&1 \
        && "$TOOLS/bin/prometheus" --version >/dev/null 2>&1; then
        return
    fi
    local work
    work="$(mktemp -d)"
    chmod 0777 "$work"  # apt's _apt user downloads into it
    if ! (cd "$work" && apt-get download prometheus >/dev/null 2>&1); then
        apt-get update -qq
        (cd "$work" && apt-get download prometheus >/dev/null)
    fi
    dpkg-deb -x "$work"/prometheus_*.deb "$work/root"
    install -m 0755 "$work/root/usr/bin/promtool" "$TOOLS/bin/promtool"
    install -m 0755 "$work/root/usr/bin/prometheus" "$TOOLS/bin/prometheus"
    rm -rf "$work"
    "$TOOLS/bin/prometheus" --version | head -n 1
}

install_kubernetes_validate() {
    local venv="$TOOLS/kubernetes-validate"
    if [[ "$("$venv/bin/kubernetes-validate" --version 2>/dev/null)" == *"$KUBERNETES_VALIDATE_VERSION"* ]]; then
        return
    fi
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
    ln -sf "$venv/bin/kubernetes-validate" "$TOOLS/bin/kubernetes-validate"
    echo "kubernetes-validate $("$venv/bin/kubernetes-validate" --version)"
}

install_chromium() {
    if chromium --version >/dev/null 2>&1; then
        return
    fi
    local archives="$TOOLS/apt-archives"
    mkdir -p "$archives/partial"
    local apt=(apt-get -y -qq --no-install-recommends -o "Dir::Cache::archives=$archives")
    if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" install chromium >/dev/null 2>&1; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${apt[@]}" install chromium >/dev/null
    fi
    chromium --version
}

install_promtool
install_kubernetes_validate
install_chromium
