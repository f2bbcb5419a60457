#!/usr/bin/env bash
# docs/report.png: Chromium's screenshot of `rtnet report` on a demo history (three weeks of
# made-up workouts written through rtnet's own history API). Needs the venv and chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
.venv/bin/python docs/demo_history.py "$work/history.sqlite3"
.venv/bin/rtnet report --last --history-db "$work/history.sqlite3" --out "$work/report.html"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1000,1900 \
  --screenshot="docs/report.png" "file://$work/report.html" 2>/dev/null
echo "wrote docs/report.png"
