#!/bin/sh
# safe-pip PATH shim for @NAME@: `@NAME@ ARGS` runs `safe-pip ARGS` with the Python this @NAME@ belongs to.
# Written by `safe-pip setup path`; `safe-pip setup path --undo` removes it.

# Leave out every PATH directory holding safe-pip shims (marked by a .safe-pip-shims file), so the
# pip and python found below are the real ones and a shim never runs itself again.
__sp_ifs=$IFS
IFS=:
set -f
__sp_path=
for __sp_d in $PATH; do
  if [ -n "$__sp_d" ] && [ -f "$__sp_d/.safe-pip-shims" ]; then continue; fi
  __sp_path=${__sp_path:+$__sp_path:}$__sp_d
done
set +f
IFS=$__sp_ifs
PATH=$__sp_path
export PATH

__safe_pip_exe() { command -v "$1"; }
@PYTHON_FOR_PIP@
if [ -n "${SAFE_PIP_ACTIVE:-}" ]; then
  # Inside a pip that safe-pip runs (build isolation, …): the real @NAME@, untouched.
  if command -v @NAME@ >/dev/null 2>&1; then exec @NAME@ "$@"; fi
  if __sp_py=$(__safe_pip_python @NAME@); then exec "$__sp_py" -m pip "$@"; fi
  echo "@NAME@: not found" >&2
  exit 127
fi
if ! __sp_py=$(__safe_pip_python @NAME@); then
  echo "safe-pip: no Python found for @NAME@ (looked next to the real @NAME@ and on PATH)" >&2
  exit 127
fi
# A bare `@NAME@` and `@NAME@ --version` print what they always printed: nothing to install.
case $#:${1:-} in 0:|1:--version|1:-V) exec "$__sp_py" -m pip "$@" ;; esac
SAFE_PIP_PYTHON=$__sp_py
export SAFE_PIP_PYTHON
exec @SAFE_PIP@ "$@"
