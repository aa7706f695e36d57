"""Packaging for tb_fitviz: the Python package plus the top-level frontend/ folder,
which is shipped inside the wheel as tb_fitviz/frontend."""

import re
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "tb_fitviz" / "__init__.py").read_text()).group(1)

setup(
    name="tb_fitviz",
    version=VERSION,
    description="FitViz: watch a model learn, in TensorBoard",
    long_description=(HERE / "README.md").read_text(encoding="utf-8") if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    packages=["tb_fitviz", "tb_fitviz.plugin", "tb_fitviz.frontend"],
    package_dir={"tb_fitviz.frontend": "frontend"},
    package_data={"tb_fitviz.frontend": ["*.js", "*.css", "*.html"]},
    install_requires=[
        "numpy>=1.23",
        "tensorboard>=2.12",
        "protobuf>=3.20",
        "werkzeug>=2.0",
        "matplotlib>=3.6",
    ],
    extras_require={
        "keras": ["tensorflow>=2.15"],
        "export": ["pillow>=9", "imageio-ffmpeg>=0.4.9"],
        "test": [
            "tensorflow>=2.15",
            "tf_keras",
            "pillow>=9",
            "imageio-ffmpeg>=0.4.9",
            "pytest>=7",
            "hypothesis>=6",
            "playwright>=1.40",
            "ruff>=0.5",
            "pandas",
        ],
    },
    entry_points={
        "tensorboard_plugins": ["fitviz = tb_fitviz.plugin.loader:FitVizLoader"],
        "console_scripts": ["tb-fitviz = tb_fitviz.cli:main"],
    },
)
