"""Packaging for tb_fitviz: the Python package plus the top-level frontend/ folder,
which is shipped inside the wheel as tb_fitviz/frontend (the plugin looks there
first, then falls back to the checkout's frontend/ in an editable install)."""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(
    r'__version__ = "([^"]+)"', (HERE / "tb_fitviz" / "__init__.py").read_text()
).group(1)


def frontend_files():
    """Every file of frontend/ (sub-folders included), relative to it."""
    root = HERE / "frontend"
    return sorted(
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file()
        and not any(part.startswith(".") or part == "__pycache__"
                    for part in path.relative_to(root).parts)
    )


EXPORT = ["pillow>=9", "imageio-ffmpeg>=0.4.9"]

setup(
    name="tb_fitviz",
    version=VERSION,
    description="FitViz: watch a model learn, in TensorBoard",
    long_description=(HERE / "README.md").read_text(encoding="utf-8")
    if (HERE / "README.md").exists()
    else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.9",
    packages=find_packages(include=["tb_fitviz", "tb_fitviz.*"]) + ["tb_fitviz.frontend"],
    package_dir={"tb_fitviz.frontend": "frontend"},
    package_data={"tb_fitviz.frontend": frontend_files()},
    include_package_data=False,
    install_requires=[
        "numpy>=1.23",
        "tensorboard>=2.12",
        "protobuf>=3.20",
        "werkzeug>=2.0",
        "matplotlib>=3.6",
        # CRC32C of every record in C when TensorFlow is not imported (JAX, PyTorch,
        # the writer alone): the pure-Python one costs ~2-4 ms per frame.
        "google-crc32c>=1.5",
    ],
    extras_require={
        # The Keras callback (the writer alone needs no TensorFlow).
        "keras": ["tensorflow>=2.15"],
        # `tb-fitviz export`: GIF through Pillow, MP4 through the ffmpeg in imageio-ffmpeg's wheel.
        "export": EXPORT,
        # s3:// log dirs: the writer uploads with boto3; TensorBoard reads S3 with it too
        # when TensorFlow is not installed.
        "s3": ["boto3"],
        # `make demo`: trains with Keras, serves TensorBoard.
        "demo": ["tensorflow>=2.15", *EXPORT],
        "test": [
            "tensorflow>=2.15",
            "tf_keras",
            *EXPORT,
            "pytest>=7",
            "hypothesis>=6",
            "playwright>=1.40",
            "ruff>=0.5",
            "pandas",
            # tests/test_remote_logdir.py: a real S3 server on localhost (moto's), and boto3.
            "boto3",
            "moto[server]>=5",
            # The segment layout test writes local:// URLs through fsspec, the file layer
            # TensorBoard itself uses for URLs when TensorFlow is absent.
            "fsspec",
            # tests/test_backends.py: FitVizCallback on Keras 3's JAX backend (CPU).
            "jax",
            # tests/test_packaging.py builds the wheel without build isolation.
            "setuptools>=61",
            "wheel",
        ],
    },
    entry_points={
        "tensorboard_plugins": ["fitviz = tb_fitviz.plugin.loader:FitVizLoader"],
        "console_scripts": ["tb-fitviz = tb_fitviz.cli:main"],
    },
)
