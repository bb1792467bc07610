# safe-pip's guard inside the pip processes it runs (the top pip, build-isolation pips, build
# backends): put first on PYTHONPATH by safe-pip, active only with SAFE_PIP_GUARD=block.
#
# Why: a dependency declared as `name @ file:///...` in metadata that only a build produces (an
# sdist with dynamic requirements, a local project) never passes through safe-pip's index, and
# a file: URL can't be caught by the proxy trap. pip's resolver turns every declared dependency
# into a requirement through Factory.make_requirement(s)_from_spec; refusing URL dependencies
# there stops pip while it is still resolving, before anything is installed or built from them.
#
# Everything here is defensive: if pip's internals differ, the guard does nothing but chain to
# any other sitecustomize, and the index-side checks still apply.
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))


def _chain_original():
    # Keep whatever sitecustomize this interpreter would otherwise have run (Debian ships one).
    try:
        import importlib.machinery
        import importlib.util

        path = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
        spec = importlib.machinery.PathFinder.find_spec("sitecustomize", path)
        if spec is not None and spec.loader is not None:
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
    except Exception:
        pass


MARK = "safe-pip: blocked direct reference"


def _refuse_urls(original):
    def wrapper(self, specifier, comes_from, *args, **kwargs):
        try:
            from pip._vendor.packaging.requirements import Requirement

            url = Requirement(str(specifier)).url
        except Exception:
            url = None
        if url:
            from pip._internal.exceptions import InstallationError

            owner = getattr(comes_from, "name", None) or "a package"
            raise InstallationError(
                f'{MARK}: {owner} depends on "{specifier}", which bypasses the index '
                '(directReferences: block); nothing was installed'
            )
        return original(self, specifier, comes_from, *args, **kwargs)

    wrapper.__safe_pip__ = True
    return wrapper


def _refuse_url_roots(original):
    # Only in a pip started by another pip (a build-isolation installer): its command line is the
    # [build-system] requires of whatever is being built, e.g. an sdist from the index, which no
    # index page shows. The top pip's own roots are safe-pip's flattened file, already judged.
    def wrapper(self, root_ireqs, *args, **kwargs):
        for ireq in root_ireqs:
            if getattr(ireq, "constraint", False) or getattr(ireq, "link", None) is None:
                continue
            from pip._internal.exceptions import InstallationError

            raise InstallationError(
                f'{MARK}: a build requirement "{ireq.req or ireq.link}" bypasses the index '
                '(directReferences: block); nothing was installed'
            )
        return original(self, root_ireqs, *args, **kwargs)

    wrapper.__safe_pip__ = True
    return wrapper


def _patch_factory(module):
    factory = getattr(module, "Factory", None)
    if factory is None:
        return
    for name in ("make_requirement_from_spec", "make_requirements_from_spec"):
        original = getattr(factory, name, None)
        if original is not None and not getattr(original, "__safe_pip__", False):
            setattr(factory, name, _refuse_urls(original))
    original = getattr(factory, "collect_root_requirements", None)
    if _NESTED and original is not None and not getattr(original, "__safe_pip__", False):
        factory.collect_root_requirements = _refuse_url_roots(original)


class _AfterImport:
    """Patches pip's resolver factory right after pip imports it (nothing else is touched)."""

    TARGET = "pip._internal.resolution.resolvelib.factory"

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.TARGET:
            return None
        import importlib.machinery

        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        exec_module = loader.exec_module

        def patched_exec(module):
            exec_module(module)
            try:
                _patch_factory(module)
            except Exception:
                pass

        loader.exec_module = patched_exec
        return spec


# safe-pip starts the top pip with "block"; every process below it (build backends, the pips
# that install build requirements) inherits "nested", which also guards their root requirements.
_NESTED = os.environ.get("SAFE_PIP_GUARD") == "nested"
if os.environ.get("SAFE_PIP_GUARD") in ("block", "nested"):
    os.environ["SAFE_PIP_GUARD"] = "nested"
    sys.meta_path.insert(0, _AfterImport())
_chain_original()
# This directory is on sys.path only to get this file imported. Left there, it is one more place
# every later top-level import (and every importlib.metadata scan) looks in first: about 3,600
# extra lookups in one pip run. Child processes still get it from PYTHONPATH.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
