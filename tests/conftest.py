"""Shared pytest setup: quiet TensorFlow, and the rule for browser tests.

Tests marked `browser` drive Debian's chromium. Without a chromium they skip,
loudly, outside CI; with CI=true they fail, so CI never passes without them.
"""

import os
import shutil

import pytest

# Before any test imports TensorFlow: keep its C++ start-up chatter out of the output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

_CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")


def chromium_executable():
    """Path of the chromium to drive ($FITVIZ_CHROMIUM first), or None."""
    for candidate in (os.environ.get("FITVIZ_CHROMIUM"), *_CHROMIUM_CANDIDATES):
        if not candidate:
            continue
        path = candidate if os.path.isabs(candidate) else shutil.which(candidate)
        if path and os.access(path, os.X_OK):
            return path
    return None


def in_ci():
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


_skipped_browser_tests = []


def pytest_collection_modifyitems(config, items):
    if chromium_executable() is not None or in_ci():
        return
    reason = "no chromium found (install Debian's chromium, or set FITVIZ_CHROMIUM)"
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.skip(reason=reason))
            _skipped_browser_tests.append(item.nodeid)


def pytest_runtest_setup(item):
    if item.get_closest_marker("browser") and in_ci() and chromium_executable() is None:
        pytest.fail("CI=true but no chromium found: browser tests must run in CI", pytrace=False)


def pytest_terminal_summary(terminalreporter):
    if _skipped_browser_tests:
        terminalreporter.section("BROWSER TESTS SKIPPED", sep="!", red=True, bold=True)
        terminalreporter.write_line(
            f"{len(_skipped_browser_tests)} browser test(s) did not run: no chromium. "
            "As root, `make test` installs Debian's chromium; under CI=true they fail instead.",
            red=True,
        )


@pytest.fixture(scope="session")
def chromium_path():
    """The chromium executable for Playwright (`executable_path=`)."""
    path = chromium_executable()
    if path is None:
        pytest.fail("no chromium found", pytrace=False)
    return path


@pytest.fixture(scope="session")
def kind_fits(tmp_path_factory):
    """Real Keras fits of every kind of run in one log directory (tests/kind_fits.py),
    made once per session: (logdir, {run: (model, callback)})."""
    pytest.importorskip("keras")
    from kind_fits import make_fits

    root = tmp_path_factory.mktemp("kind-fits")
    return root, make_fits(str(root))
