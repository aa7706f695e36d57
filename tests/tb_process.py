"""A real `tensorboard` subprocess for tests: free port, waits until it serves, always killed.

Example:

```python
from tb_process import tensorboard_server   # tests/ is on sys.path under pytest

with tensorboard_server(logdir, "--load_fast=true") as url:
    listing = json.loads(urllib.request.urlopen(url + "/data/plugins_listing").read())
    print(url.output())   # what tensorboard printed so far
```

`url` is the base URL without a trailing slash (a `str`), with extras:
`url.process` (the `subprocess.Popen`), `url.output()` (the lines tensorboard
printed so far, stdout and stderr), `url.get(path)` / `url.get_json(path)`.

Unless given, `--reload_task=blocking --reload_interval=0` are added, so the
first load is finished before the server answers. Pass a positive
`--reload_interval=N` (and `--reload_task=auto`) for live-update tests.
TensorBoard and its Rust data server are started in their own process group,
which is killed on exit, even when the test fails.
"""

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

_URL_PATTERN = re.compile(r"TensorBoard \S+ at (http://[^\s/]+)(/\S*)? \(Press CTRL\+C to quit\)")


class TensorBoardURL(str):
    """The base URL of a running tensorboard (no trailing slash), with helpers."""

    process = None
    _lines = None

    def output(self):
        """Everything tensorboard printed so far, as one string."""
        return "".join(self._lines)

    def get(self, path, timeout=60, headers=None):
        """(status, headers, body bytes) of GET `path` (which starts with "/")."""
        request = urllib.request.Request(self + path, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def get_json(self, path, timeout=60):
        status, _, body = self.get(path, timeout=timeout)
        if status != 200:
            raise AssertionError(f"GET {path}: HTTP {status}: {body[:300]!r}")
        return json.loads(body)


def _has_flag(flags, name):
    return any(flag == name or flag.startswith(name + "=") for flag in flags)


@contextlib.contextmanager
def tensorboard_server(logdir, *flags, timeout=180, env=None):
    """Runs `tensorboard --logdir LOGDIR --port 0 FLAGS...` until the block exits.

    Args:
        logdir: The log directory.
        *flags: Extra command-line flags, e.g. "--load_fast=false".
        timeout: Seconds to wait for the server to answer.
        env: Extra environment variables.

    Yields:
        A `TensorBoardURL` (a str: "http://127.0.0.1:PORT", plus helpers).
    """
    flags = list(flags)
    if not _has_flag(flags, "--reload_task"):
        flags.append("--reload_task=blocking")
    if not _has_flag(flags, "--reload_interval"):
        flags.append("--reload_interval=0")
    if not _has_flag(flags, "--host") and not _has_flag(flags, "--bind_all"):
        flags.append("--host=127.0.0.1")
    command = [
        sys.executable, "-m", "tensorboard.main",
        "--logdir", os.fspath(logdir), "--port", "0", *flags,
    ]
    environment = dict(os.environ)
    environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    environment["PYTHONUNBUFFERED"] = "1"
    environment.update(env or {})
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=environment,
        start_new_session=True,  # its own process group: the data server dies with it
    )
    lines = []
    found = threading.Event()
    url_holder = []

    def drain():
        for raw in iter(process.stdout.readline, b""):
            line = raw.decode("utf-8", "replace")
            lines.append(line)
            match = _URL_PATTERN.search(line)
            if match and not url_holder:
                url_holder.append(match.group(1) + (match.group(2) or "/").rstrip("/"))
                found.set()
        found.set()

    reader = threading.Thread(target=drain, name="tensorboard-output", daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + timeout
        found.wait(timeout)
        if not url_holder:
            raise RuntimeError(
                f"tensorboard did not start (exit code {process.poll()}):\n" + "".join(lines)
            )
        url = TensorBoardURL(url_holder[0])
        url.process = process
        url._lines = lines
        while True:
            try:
                status, _, _ = url.get("/data/plugins_listing", timeout=10)
                if status == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("tensorboard does not answer:\n" + "".join(lines))
            time.sleep(0.2)
        yield url
    finally:
        _kill_group(process)
        reader.join(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def _kill_group(process):
    if process.poll() is None:
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            try:
                process.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
    else:
        # TensorBoard itself exited: make sure nothing of its group is left behind.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
