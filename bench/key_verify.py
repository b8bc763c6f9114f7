"""Builds bench/key_verify.cpp in Release and prints what verifying an access key costs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "bench"


def main() -> int:
    subprocess.run(
        [
            "cmake",
            "-S",
            str(ROOT),
            "-B",
            str(BUILD),
            "-G",
            "Ninja",
            "-DCMAKE_BUILD_TYPE=Release",
            "-DAIGNEHUB_BUILD_PYTHON=OFF",
            "-DAIGNEHUB_BUILD_BENCH=ON",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run(
        ["cmake", "--build", str(BUILD), "--target", "aignehub_bench_keys"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return subprocess.run([str(BUILD / "aignehub_bench_keys")], check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
