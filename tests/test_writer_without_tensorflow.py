"""The writer works where TensorFlow is not installed (PyTorch, JAX and NumPy users).

A child process gets a `tensorflow` package first on sys.path whose import
raises ImportError, as on a machine without TensorFlow; the writer's tests
(test_writer.py) and a direct check run there.
"""

import os
import subprocess
import sys
import textwrap

TESTS = os.path.dirname(os.path.abspath(__file__))


def _env_without_tensorflow(tmp_path):
    blocker = tmp_path / "no_tensorflow"
    (blocker / "tensorflow").mkdir(parents=True)
    (blocker / "tensorflow" / "__init__.py").write_text(
        'raise ImportError("No module named \'tensorflow\' (blocked for this test)")\n')
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(blocker), env.get("PYTHONPATH")]))
    return env


def test_writer_suite_passes_without_tensorflow(tmp_path):
    env = _env_without_tensorflow(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         os.path.join(TESTS, "test_writer.py")],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout


def test_writer_uses_python_records_and_never_imports_tensorflow(tmp_path):
    env = _env_without_tensorflow(tmp_path)
    script = textwrap.dedent(f"""
        import sys
        try:
            import tensorflow
        except ImportError:
            pass
        else:
            raise SystemExit("tensorflow was importable")
        import numpy as np
        from tb_fitviz import FitVizWriter
        x = np.linspace(0, 1, 100)
        with FitVizWriter({str(tmp_path / "run")!r}, x, 2 * x, images=False) as writer:
            writer.record(0, writer.x_sample)
            writer.record_batch_loss(1, 0.5)
            writer.record(1, 2 * writer.x_sample)
            assert not writer._events.uses_tensorflow
        assert "tensorflow" not in sys.modules or sys.modules["tensorflow"] is None
        from tensorboard.backend.event_processing import event_file_loader
        import glob
        (path,) = glob.glob({str(tmp_path / "run" / "events.out.tfevents.*")!r})
        frames = [e.step for e in event_file_loader.EventFileLoader(path).Load()
                  for v in e.summary.value if v.tag.startswith("fitviz/frame/")]
        assert frames == [0, 1], frames
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("ok")
