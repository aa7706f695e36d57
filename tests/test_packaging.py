"""The wheel: what it holds, and a non-editable install that works on its own.

The wheel is built from a copy of the working tree (as a fresh checkout would
be), installed with --no-deps into a fresh virtual environment outside the
checkout, and used from there: entry points, the frontend files inside the
installed package, the console script, and a real `tensorboard` subprocess
that lists the plugin and serves its ES module.
"""

import configparser
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import textwrap
import threading
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("setup.py", "pyproject.toml", "README.md", "tb_fitviz", "frontend")


def _frontend_files():
    root = ROOT / "frontend"
    return sorted(
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and not any(part.startswith(".") or part == "__pycache__"
                                      for part in path.relative_to(root).parts)
    )


def _package_modules():
    package = ROOT / "tb_fitviz"
    return sorted(
        path.relative_to(ROOT).as_posix()
        for path in package.rglob("*.py")
        if "__pycache__" not in path.parts
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """Path of the wheel built from a copy of the working tree."""
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        origin = ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, source / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
        elif origin.exists():
            shutil.copy2(origin, source / name)
    dist = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "--wheel-dir", str(dist), str(source)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    wheels = list(dist.glob("tb_fitviz-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """A fresh venv with the wheel installed non-editable (no dependencies reinstalled).

    The dependencies (TensorBoard, NumPy, ...) come from this interpreter's
    site-packages through a .pth file pointing at a folder of links that leaves
    out every tb_fitviz entry (the editable install of the checkout), so the
    only tb_fitviz the new venv can import is the one from the wheel.
    """
    base = tmp_path_factory.mktemp("installed")
    deps = base / "deps"
    deps.mkdir()
    site_packages = Path(sysconfig.get_paths()["purelib"])
    for entry in site_packages.iterdir():
        name = entry.name.lower()
        if name.startswith(("tb_fitviz", "__editable__", "__pycache__")) or name.endswith(".pth"):
            continue
        (deps / entry.name).symlink_to(entry)
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=300)
    python = venv / "bin" / "python"
    venv_site = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True).stdout.strip())
    (venv_site / "fitviz_test_deps.pth").write_text(str(deps) + "\n")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", str(wheel)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Run from a folder outside the checkout, so the checkout is not on sys.path.
    work = base / "work"
    work.mkdir()
    return {"python": python, "venv": venv, "site": venv_site, "work": work}


def _run_python(installed, code, timeout=300):
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    result = subprocess.run(
        [str(installed["python"]), "-c", textwrap.dedent(code)],
        cwd=installed["work"], capture_output=True, text=True, timeout=timeout, env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_wheel_holds_the_package_the_frontend_and_the_entry_points(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = _package_modules()
    assert "tb_fitviz/plugin/loader.py" in modules
    missing_modules = [module for module in modules if module not in names]
    assert not missing_modules, f"modules missing from the wheel: {missing_modules}"

    frontend = _frontend_files()
    assert "index.js" in frontend, "frontend/index.js (the plugin's ES module) is missing"
    missing_frontend = [name for name in frontend if f"tb_fitviz/frontend/{name}" not in names]
    assert not missing_frontend, f"frontend files missing from the wheel: {missing_frontend}"
    # Nothing of the checkout besides the package: no tests, demo or bench.
    assert not [name for name in names if name.startswith(("tests/", "demo/", "bench/"))]

    entry_points_file = next(name for name in names if name.endswith(".dist-info/entry_points.txt"))
    parser = configparser.ConfigParser()
    parser.read_string(zipfile.ZipFile(wheel).read(entry_points_file).decode())
    assert parser["tensorboard_plugins"]["fitviz"] == "tb_fitviz.plugin.loader:FitVizLoader"
    assert parser["console_scripts"]["tb-fitviz"] == "tb_fitviz.cli:main"

    metadata = zipfile.ZipFile(wheel).read(
        next(name for name in names if name.endswith(".dist-info/METADATA"))).decode()
    assert "Provides-Extra: export" in metadata
    assert "Provides-Extra: test" in metadata
    assert re.search(r"^Requires-Dist: tensorboard", metadata, re.M)


def test_installed_wheel_loads_the_plugin_with_its_frontend(installed):
    found = _run_python(installed, """
        import importlib.metadata as metadata, json, sys
        from pathlib import Path
        (entry,) = [e for e in metadata.entry_points(group="tensorboard_plugins")
                    if e.name == "fitviz"]
        loader = entry.load()
        import tb_fitviz
        package = Path(tb_fitviz.__file__).parent
        frontend = package / "frontend"
        files = sorted(p.relative_to(frontend).as_posix() for p in frontend.rglob("*")
                       if p.is_file() and "__pycache__" not in p.parts)
        print(json.dumps({
            "loader": loader.__module__ + ":" + loader.__name__,
            "package": str(package),
            "files": files,
            "index_bytes": (frontend / "index.js").read_bytes().hex(),
            "heavy": [m for m in ("tensorflow", "matplotlib") if m in sys.modules],
            "distribution": metadata.distribution("tb_fitviz").read_text("direct_url.json"),
        }))
    """)
    assert found["loader"] == "tb_fitviz.plugin.loader:FitVizLoader"
    assert found["package"].startswith(str(installed["site"])), found["package"]
    assert found["files"] == _frontend_files()
    assert bytes.fromhex(found["index_bytes"]) == (ROOT / "frontend" / "index.js").read_bytes()
    # TensorBoard imports the entry point at start-up: it must stay light.
    assert found["heavy"] == []
    # A plain install from the wheel, not an editable one.
    assert '"editable": true' not in (found["distribution"] or "")


def test_installed_console_script_runs(installed):
    script = installed["venv"] / "bin" / "tb-fitviz"
    assert script.exists()
    result = subprocess.run([str(script), "--version"], cwd=installed["work"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("tb_fitviz ")
    result = subprocess.run([str(script), "export", "nowhere", "--run", "r", "-o", "x.webm"],
                            cwd=installed["work"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "-o/--output" in result.stderr and ".webm" in result.stderr


_URL = re.compile(r"TensorBoard \S+ at (http://[^\s/]+)/? \(Press CTRL\+C to quit\)")


def test_installed_plugin_serves_its_module_in_a_real_tensorboard(installed, tmp_path):
    if not (ROOT / "tb_fitviz" / "plugin" / "fitviz_plugin.py").exists():
        pytest.fail("tb_fitviz/plugin/fitviz_plugin.py (the plugin itself) is missing")
    logdir = tmp_path / "logs"
    _run_python(installed, f"""
        import json, numpy as np
        from tb_fitviz import FitVizWriter
        x = np.linspace(0, 1, 50)
        with FitVizWriter({str(logdir / "run-a")!r}, x, 2 * x) as writer:
            for step in range(3):
                writer.record(step, step * x)
        print(json.dumps(True))
    """)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    process = subprocess.Popen(
        [str(installed["python"]), "-m", "tensorboard.main", "--logdir", str(logdir),
         "--port", "0", "--host", "127.0.0.1", "--load_fast=false",
         "--reload_task=blocking", "--reload_interval=0"],
        cwd=installed["work"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    lines, found = [], threading.Event()

    def drain():
        for raw in iter(process.stdout.readline, b""):
            lines.append(raw.decode("utf-8", "replace"))
            if _URL.search(lines[-1]):
                found.set()
        found.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        found.wait(180)
        match = next((m for m in map(_URL.search, lines) if m), None)
        assert match, "tensorboard did not start:\n" + "".join(lines)
        url = match.group(1)
        listing = json.loads(_get(url + "/data/plugins_listing"))
        assert "fitviz" in listing, listing.keys()
        assert listing["fitviz"]["enabled"] is True, listing["fitviz"]
        module = listing["fitviz"]["loading_mechanism"].get("module_path", "")
        assert module.endswith("index.js"), listing["fitviz"]
        served = _get(url + "/data/plugin/fitviz/index.js")
        assert served == (installed["site"] / "tb_fitviz" / "frontend" / "index.js").read_bytes()
        assert served == (ROOT / "frontend" / "index.js").read_bytes()
        runs = json.loads(_get(url + "/data/plugin/fitviz/runs"))
        assert [(run["run"], run["steps"]) for run in runs] == [("run-a", [0, 1, 2])]
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=15)
        reader.join(timeout=10)
        process.stdout.close()


def _get(url, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                return response.read()
        except urllib.error.HTTPError:
            raise
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def test_wheel_build_is_reproducible_in_content(wheel):
    """Every file in the wheel is readable and the frontend is byte-identical to the checkout."""
    archive = zipfile.ZipFile(wheel)
    assert archive.testzip() is None
    for name in _frontend_files():
        assert archive.read(f"tb_fitviz/frontend/{name}") == (ROOT / "frontend" / name).read_bytes()
    with io.BytesIO(archive.read("tb_fitviz/__init__.py")) as init:
        assert b"__version__" in init.read()
