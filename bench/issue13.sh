#!/usr/bin/env bash
# Every row of issue 13's bench table, one after another in one run, on the code checked
# out: pipelined paging (rows 1-3), flow control (4-5), background collection (6), cached
# rendering (7-8) and peak RSS (9). Markdown to stdout and bench/out/issue13-<time>.md.
#
#     bash bench/issue13.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out
out="bench/out/issue13-$(date -u +%Y%m%dT%H%M%S).md"
run() {
  echo "## \$ .venv/bin/python $*"
  echo
  .venv/bin/python "$@"
  echo
}
{
  echo "# Issue 13 bench, $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD)"
  echo
  run bench/background.py --part pipeline
  run bench/flow.py
  run bench/background.py --part background
  run bench/cached.py --tables 20000 --scrapes 5 --runs 3
  run bench/rss.py --tables 20000 --scrapes 5 --label issue13
} 2>&1 | tee "$out"
echo "written to $out"
