export const HELP = `safe-pip — pip and install.packages() through one policy-checked local index

Usage:
  safe-pip <pip command> [pip options]     install, download, wheel, index, lock (and list
                                           --outdated) go through safe-pip's unified index;
                                           every other pip command runs unchanged
  safe-pip explain REQUIREMENT... [--json] what would be chosen, and every rule that applies
  safe-pip doctor                          check which pip/python/R calls are covered
  safe-pip setup shell|r [--undo]          put safe-pip in front of pip / install.packages()
  safe-pip shell-init bash|zsh|fish|powershell
                                           shell code that routes pip, pip3, python -m pip
  safe-pip serve [--port N]                run the unified index until interrupted
  safe-pip osv update                      refresh the offline OSV database
  safe-pip r serve|check ...               the R hook's helper commands

safe-pip options for pip commands:
  --snapshot DATE       resolve as of DATE (YYYY-MM-DD or ISO timestamp); can only tighten policy
  --sbom FILE           after install: a CycloneDX 1.5 JSON SBOM of what was installed
  --lock FILE           after install: a hash-pinned requirements file plain pip can replay
                        (a PEP 751 lock when FILE is pylock.toml or pylock.NAME.toml)
  --plan                install: resolve first, print the plan, then install exactly that set

Environment:
  SAFE_PIP_CONFIG       policy file (replaces user settings; the system policy still applies)
  SAFE_PIP_SYSTEM_POLICY system policy file, honoured only where /etc/safe-pip/policy.json
                        doesn't exist (a floor can't be swapped by a variable)
  SAFE_PIP_SNAPSHOT     a snapshot date for this run (like --snapshot)
  SAFE_PIP_PYTHON       the Python whose "-m pip" is the real pip
  SAFE_PIP_REPORT       write every run's decisions as JSON to this file

Exit codes: pip's own code when pip fails; 64 usage, 65 blocked by policy,
69 a source or check unreachable, 70 internal error, 72 pip/python/R not found,
78 configuration error.

pip's own help: safe-pip help, safe-pip install --help
`;
