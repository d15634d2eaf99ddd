# Sourced by scripts/demo and scripts/test, from the repository's root.
#
# ensure_venv SPEC: creates .venv when missing (upgrading its pip once, then), and runs
# `pip install -e SPEC` (SPEC: `.` or `.[test,docs]`) unless .venv holds a stamp saying
# SPEC was installed from this very pyproject.toml with this Python. The install is
# editable, so changes to the code need no reinstall; a changed pyproject.toml (new
# dependencies, entry points) or another Python does. PYTHON picks the interpreter that
# creates .venv (default python3).
ensure_venv() {
  local spec=$1
  if [ ! -x .venv/bin/python ]; then
    "${PYTHON:-python3}" -m venv .venv
    .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  fi
  local stamp want
  stamp=.venv/.dts-exporter-installed-$(printf %s "$spec" | tr -c 'A-Za-z0-9' _)
  want="$(cksum < pyproject.toml) $(.venv/bin/python --version 2>&1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  .venv/bin/python -m pip install -q --disable-pip-version-check -e "$spec"
  printf '%s\n' "$want" > "$stamp"
}
