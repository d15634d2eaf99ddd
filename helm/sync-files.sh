#!/usr/bin/env bash
# Helm reads nothing outside a chart, so the chart carries copies of the project's alert
# rules and Grafana dashboard. This script refreshes them from their sources; with --check
# it changes nothing and exits 1 when a copy differs from its source (tests/test_helm.py
# fails in that case too). The config file's JSON Schema embedded in values.schema.json is
# not copied here: `.venv/bin/python -m tools.regenerate` writes it (tests compare it too).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
files="$here/dts-exporter/files"

# source (relative to the repository root) -> copy (relative to the chart's files/)
pairs=(
  "alerts/dts-exporter.rules.yaml:dts-exporter.rules.yaml"
  "dashboards/dts-exporter.json:dts-exporter.json"
)

check=0
case "${1:-}" in
  --check) check=1 ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

status=0
for pair in "${pairs[@]}"; do
  source="$root/${pair%%:*}"
  copy="$files/${pair#*:}"
  if [ ! -f "$source" ]; then
    echo "missing source: ${pair%%:*}" >&2
    exit 2
  fi
  if cmp -s "$source" "$copy"; then
    continue
  fi
  if [ "$check" = 1 ]; then
    echo "out of date: helm/dts-exporter/files/${pair#*:} differs from ${pair%%:*}" >&2
    status=1
  else
    mkdir -p "$files"
    cp "$source" "$copy"
    echo "updated helm/dts-exporter/files/${pair#*:} from ${pair%%:*}"
  fi
done
if [ "$check" = 1 ] && [ "$status" = 0 ]; then
  echo "chart files are up to date"
fi
exit "$status"
