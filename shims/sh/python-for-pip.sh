# __safe_pip_python NAME: prints the Python interpreter that the pip command NAME (pip, pip3 or
# pip3.X) would have run, so safe-pip installs into the same environment: the interpreter named on
# the #! line of that pip, else a python next to it (venvs, conda, pyenv shims), else the python
# on PATH that the name stands for (pip: python, python3; pip3: python3, python; pip3.X: python3.X).
# Fails when there is none. Needs __safe_pip_exe NAME: the executable NAME runs (never a function).
__safe_pip_python() {
  local __sp_pip __sp_line __sp_py __sp_n
  __sp_pip=$(__safe_pip_exe "$1" 2>/dev/null) || __sp_pip=
  case $1 in
    pip) set -- python python3 ;;
    pip3) set -- python3 python ;;
    *) set -- "python${1#pip}" ;;
  esac
  if [ -n "$__sp_pip" ] && [ -f "$__sp_pip" ] && [ -r "$__sp_pip" ]; then
    __sp_line=
    IFS= read -r __sp_line <"$__sp_pip" || :
    case $__sp_line in
      '#!/'*) __sp_py=${__sp_line#??} ;;
      '#! /'*) __sp_py=${__sp_line#???} ;;
      *) __sp_py= ;;
    esac
    __sp_py=${__sp_py%% *}
    case ${__sp_py##*/} in
      python*) if [ -x "$__sp_py" ]; then printf '%s\n' "$__sp_py"; return 0; fi ;;
    esac
    for __sp_n in "$@"; do
      if [ -x "${__sp_pip%/*}/$__sp_n" ]; then printf '%s\n' "${__sp_pip%/*}/$__sp_n"; return 0; fi
    done
  fi
  for __sp_n in "$@"; do
    __sp_py=$(__safe_pip_exe "$__sp_n" 2>/dev/null) || continue
    if [ -n "$__sp_py" ]; then printf '%s\n' "$__sp_py"; return 0; fi
  done
  return 1
}
