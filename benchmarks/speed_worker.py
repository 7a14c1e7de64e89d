"""The suite of another checkout, timed on request: the "suite @ DIR" row of ``speed.py --against DIR``.

:class:`Against` (speed.py's side) starts ``python benchmarks/speed_worker.py
DIR`` and keeps it for the whole run, so the other suite is timed in the same
interleaved rounds as every other contender. It imports ``suite`` and its built-in plugin packages
from the checkout DIR, not from the installed (editable) suite: a finder put
first on ``sys.meta_path`` maps DIR's ``[tool.setuptools.package-dir]``
(``suite.landscapes`` → ``DIR/landscapes``, ...) as the editable install maps
this checkout's. The plugins registered are the installed entry points, loaded
from DIR. Its first line of output names the ``suite/__init__.py`` it imported,
so the caller can check it.

Protocol, one JSON object a line: ``{"landscape", "values", "restarts",
"steps", "precision"}`` builds and compiles that cell and answers
``{"built": true, "outside": [...]}`` (any ``suite`` module
not from DIR, which the caller refuses); ``{"run": true}`` runs it once and answers
``{"seconds", "loss"}`` (run seconds and median final loss, as
``suite_cell.py`` measures them); an error answers ``{"error": "..."}``.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import subprocess
import sys
import tomllib
from pathlib import Path


class Against:
    """speed.py's end of a worker: the suite of checkout ``folder``, one cell at a time."""

    def __init__(self, folder: str):
        self.folder = Path(folder).resolve()
        self.name = folder.rstrip("/")
        if not (self.folder / "suite" / "__init__.py").is_file():
            raise SystemExit(f"--against {folder}: no suite/__init__.py there; give a checkout of the repository")
        self.process = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), str(self.folder)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.suite_file = self._read()["suite"]
        if not Path(self.suite_file).is_relative_to(self.folder):
            self.close()
            raise SystemExit(f"--against {folder}: the worker imported {self.suite_file}, not that checkout's suite")

    def _read(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the worker for {self.name} exited (code {self.process.poll()})")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer

    def _ask(self, request: dict) -> dict:
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self._read()

    def cell(self, landscape: str, values: dict, restarts: int, steps: int):
        """Builds and compiles the cell there; returns ``run()`` → (run seconds, median final loss)."""
        built = self._ask({"landscape": landscape, "values": values, "restarts": restarts, "steps": steps})
        if built["outside"]:
            raise RuntimeError(f"modules imported from outside {self.folder}: {built['outside'][:3]}")

        def run():
            answer = self._ask({"run": True})
            return answer["seconds"], answer["loss"]

        return run

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


class CheckoutFinder:
    """Finds ``suite`` and its mapped subpackages in one checkout, before any other finder."""

    def __init__(self, root: Path):
        table = tomllib.loads((root / "pyproject.toml").read_text())
        dirs = table.get("tool", {}).get("setuptools", {}).get("package-dir", {"suite": "suite"})
        self.mapping = {name: root / where for name, where in dirs.items()}

    def find_spec(self, fullname, path=None, target=None):
        if fullname in self.mapping:
            folder = self.mapping[fullname]
            return importlib.util.spec_from_file_location(fullname, folder / "__init__.py",
                                                          submodule_search_locations=[str(folder)])
        parent, _, _ = fullname.rpartition(".")
        if parent in self.mapping:
            return importlib.machinery.PathFinder.find_spec(fullname, [str(self.mapping[parent])])
        return None  # deeper modules follow their parent package's __path__


CHANNEL = sys.stdout  # answers only: anything else printed goes to stderr (see main)


def answer(message: dict) -> None:
    print(json.dumps(message), file=CHANNEL, flush=True)


def main() -> None:
    root = Path(sys.argv[1]).resolve()
    sys.stdout = sys.stderr  # a print in the other suite must not garble the answers
    sys.meta_path.insert(0, CheckoutFinder(root))
    import suite

    from suite_cell import suite_cell  # this folder's, importing DIR's suite through the finder

    answer({"suite": str(Path(suite.__file__).resolve())})
    run = None
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if "landscape" in request:
                run = None
                run, _ = suite_cell(request["landscape"], request["values"], request["restarts"],
                                    request["steps"], precision=request.get("precision", "default"))
                outside = sorted(str(m.__file__) for n, m in list(sys.modules.items())
                                 if n.split(".")[0] == "suite" and getattr(m, "__file__", None)
                                 and not Path(m.__file__).resolve().is_relative_to(root))
                answer({"built": True, "outside": outside})
            else:
                seconds, loss = run()
                answer({"seconds": seconds, "loss": loss})
        except Exception as error:  # noqa: BLE001 - reported to the caller, who shows it as the row's failure
            answer({"error": f"{type(error).__name__}: {error}"[:500]})


if __name__ == "__main__":
    main()
