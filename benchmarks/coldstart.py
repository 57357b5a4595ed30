"""Cold start: import and first invocation of each handler in a fresh process, beside
``import boto3`` alone in a fresh process (medians of interleaved runs).

Every child process does the same preamble (environment, event file, a hook that stubs
the network the moment botocore or ``events_api.aws.http_client`` loads), then times only its own
work, so the two kinds of child are measured the same way. The time is the child's CPU time: on this
shared machine wall time mostly measures the queue for a core (the children do no I/O
beyond reading their modules). Run as a child:
``python -m benchmarks.coldstart ingest|consumer|boto3 EVENT_FILE``.
"""

from __future__ import annotations

import json
import os
import py_compile
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


#: The modules that talk to the network: botocore's, and the ingest path's own client.
_NETWORK_MODULES = ("botocore.httpsession", "events_api.aws.http_client")


def _install_stub_hook(key_document: bytes, key: str) -> None:
    """Stub the network the moment a module that uses it is imported."""
    import importlib.abc
    import importlib.machinery

    waiting = set(_NETWORK_MODULES)

    class Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
            if name not in waiting:
                return None
            waiting.discard(name)
            if not waiting:
                sys.meta_path.remove(self)
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            assert spec is not None
            assert spec.loader is not None
            loader = spec.loader
            original = loader.exec_module

            def exec_module(module: Any) -> None:
                original(module)
                from benchmarks.stubs import StubAws

                stub = StubAws(key_document=key_document, key=key)
                if name == "botocore.httpsession":
                    stub.install_botocore()
                else:
                    stub.install_transport()

            loader.exec_module = exec_module  # type: ignore[method-assign]
            return spec

    sys.meta_path.insert(0, Finder())


def child(kind: str, event_file: str) -> None:
    from benchmarks import lambdas

    lambdas.set_env("kinesis")
    spec = json.loads(Path(event_file).read_text())
    _install_stub_hook(spec["key_document"].encode(), spec["key"])
    code = Path(os.environ.get("BENCH_CODE_ROOT", str(ROOT)))
    sys.path.insert(0, str(code / "layers" / "shared"))
    kind = kind.removesuffix(" source")
    out: dict[str, float] = {}
    if kind == "boto3":
        start = time.process_time()
        import boto3  # noqa: F401

        out["import"] = time.process_time() - start
        out["first"] = 0.0
    else:
        sys.path.insert(0, str(code / "functions" / kind))
        context = lambdas.context()
        event = spec[kind]
        devnull = open(os.devnull, "w")  # noqa: SIM115
        saved, sys.stdout = sys.stdout, devnull
        try:
            start = time.process_time()
            import app  # type: ignore[import-not-found]

            imported = time.process_time()
            app.lambda_handler(event, context)
            done = time.process_time()
        finally:
            sys.stdout = saved
        out["import"] = imported - start
        out["first"] = done - imported
    print(json.dumps(out))


@dataclass
class ColdStart:
    runs: int
    medians: dict[str, dict[str, float]] = field(default_factory=dict)
    samples: dict[str, list[float]] = field(default_factory=dict)

    def total(self, kind: str) -> float:
        return self.medians[kind]["total"]

    def ratio(self, kind: str) -> float:
        return self.total(kind) / self.total("boto3")


def _compiled_copy(directory: Path) -> Path:
    """The shared package and functions with bytecode beside them, as layers/shared/Makefile
    builds the layer (unchecked-hash .pyc files, valid whatever the files' times)."""
    import compileall
    import shutil

    for part in ("layers/shared/events_api", "functions/ingest", "functions/consumer"):
        shutil.copytree(ROOT / part, directory / part, ignore=shutil.ignore_patterns("__pycache__"))
    compileall.compile_dir(
        directory,
        quiet=1,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    return directory


#: Kinds of child run on the code as the layer ships it (layers/shared/Makefile compiles
#: every module); "<function> source" runs the same function without its bytecode.
SHIPPED = ("ingest", "consumer")


def measure(events: dict[str, Any], key: str, key_document: bytes, runs: int = 11) -> ColdStart:
    """Fresh processes for boto3, ingest and consumer (bytecode shipped, as the layer is
    built), interleaved, ``runs`` each; and the ingest function again from source only
    (``ingest source``: what every cold start paid before the layer shipped bytecode)."""
    kinds = ["boto3", "ingest", "consumer", "ingest source"]
    results: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump({**events, "key": key, "key_document": key_document.decode()}, handle)
        path = handle.name
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    compiled = tempfile.TemporaryDirectory()
    try:
        _compiled_copy(Path(compiled.name))
        for _ in range(runs):
            for kind in kinds:
                child_env = dict(env)
                if kind in SHIPPED:
                    child_env["BENCH_CODE_ROOT"] = compiled.name
                answer = subprocess.run(
                    [sys.executable, "-m", "benchmarks.coldstart", kind, path],
                    capture_output=True,
                    text=True,
                    check=True,
                    env=child_env,
                    cwd=ROOT,
                )
                results[kind].append(json.loads(answer.stdout.strip().splitlines()[-1]))
    finally:
        os.unlink(path)
        compiled.cleanup()
    out = ColdStart(runs)
    for kind, rows in results.items():
        totals = [r["import"] + r["first"] for r in rows]
        out.samples[kind] = totals
        out.medians[kind] = {
            "import": statistics.median(r["import"] for r in rows),
            "first": statistics.median(r["first"] for r in rows),
            "total": statistics.median(totals),
        }
    return out


if __name__ == "__main__":
    child(sys.argv[1], sys.argv[2])
