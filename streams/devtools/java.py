"""The Java runtime the local launchers (broker, registry) need: find one of version 17 or newer."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from processors.errors import ConfigurationError

__all__ = ["find_java"]

_MIN_JAVA = 17


def find_java() -> str:
    """Return the path of a ``java`` of version 17 or newer, or raise ConfigurationError."""
    java_home = os.environ.get("JAVA_HOME")
    candidates = [str(Path(java_home) / "bin" / "java")] if java_home else []
    on_path = shutil.which("java")
    if on_path:
        candidates.append(on_path)
    for java in candidates:
        if not Path(java).exists():
            continue
        version = _java_major_version(java)
        if version is not None and version >= _MIN_JAVA:
            return java
    raise ConfigurationError(
        "Java 17 or newer is needed to run the local Kafka broker but none was found on PATH or in "
        "JAVA_HOME. Install it (Debian/Ubuntu: `apt-get install openjdk-17-jre-headless`) or point "
        "KAFKA_BOOTSTRAP_SERVERS at an existing broker."
    )


def _java_major_version(java: str) -> int | None:
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major
