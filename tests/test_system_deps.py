"""``make test`` / ``make demo`` check their system packages first (scripts/system-deps.sh): silent when
all are there, installed with apt-get as root, otherwise one line naming the command and exit 1.

The script runs with a PATH holding only stand-in commands, so each case decides what is
installed; ``apt-get`` is a stand-in that records its arguments and "installs" the stand-ins.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "system-deps.sh"
JAVA_17 = 'echo \'openjdk version "17.0.9" 2023-10-17\' >&2'


class Machine:
    """A fake machine: a bin folder of stand-ins, a lib folder, and who runs the script."""

    def __init__(self, root: Path) -> None:
        self.bin, self.lib, self.venv = root / "bin", root / "lib", root / "venv"
        self.bin.mkdir()
        self.lib.mkdir()
        self.log = root / "apt.log"
        for tool in ("sed",):  # the only outside tool the script needs besides the ones under test
            (self.bin / tool).symlink_to(shutil.which(tool) or f"/bin/{tool}")
        self.command("id", "echo 1000")
        self.command("python3", "exit 0")

    def command(self, name: str, body: str) -> None:
        path = self.bin / name
        path.write_text(f"#!/bin/bash\n{body}\n")
        path.chmod(0o755)

    def install_all(self) -> None:
        self.command("java", JAVA_17)
        for name in ("mvn", "rsyslogd", "openssl", "promtool", "prometheus", "chromium", "chromedriver"):
            self.command(name, "exit 0")
        (self.lib / "x86_64-linux-gnu" / "rsyslog").mkdir(parents=True)
        (self.lib / "x86_64-linux-gnu" / "rsyslog" / "lmnsd_gtls.so").write_bytes(b"")

    def run(self, purpose: str, **env: str) -> subprocess.CompletedProcess[str]:
        environment = {"PATH": str(self.bin), "PRISMAFLOW_DEPS_SBIN": str(self.bin / "nowhere"),
                       "PRISMAFLOW_DEPS_LIBDIRS": str(self.lib), "VENV": str(self.venv), **env}
        return subprocess.run(["/bin/bash", str(SCRIPT), purpose], env=environment, capture_output=True,
                              text=True, timeout=60)


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    return Machine(tmp_path)


def test_with_everything_installed_it_is_silent_and_quick(machine: Machine) -> None:
    machine.install_all()
    started = time.monotonic()
    for purpose in ("test", "demo"):
        result = machine.run(purpose)
        assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert time.monotonic() - started < 5


def test_as_a_user_it_names_the_apt_command_in_one_line_and_fails(machine: Machine) -> None:
    machine.install_all()
    (machine.bin / "rsyslogd").unlink()
    shutil.rmtree(machine.lib / "x86_64-linux-gnu")
    machine.command("apt-get", f"echo \"$@\" >> {machine.log}")
    result = machine.run("test")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "run 'sudo apt-get install -y rsyslog rsyslog-gnutls'" in result.stderr
    assert not machine.log.exists()  # nothing was installed behind the user's back


def test_as_root_it_installs_what_is_missing_with_apt_get(machine: Machine) -> None:
    machine.command("id", "echo 0")
    machine.command("apt-cache", '[ "$2" = openjdk-17-jre-headless ]')
    gtls = machine.lib / "rsyslog"
    stand_in = machine.bin.parent / "installed-stand-in"
    stand_in.write_text(f"#!/bin/bash\n{JAVA_17}\n")
    stand_in.chmod(0o755)
    cp, mkdir, touch = (shutil.which(tool) for tool in ("cp", "mkdir", "touch"))
    machine.command("apt-get", "\n".join([
        f'echo "$@" >> {machine.log}',
        'if [ "$1" = install ]; then',
        f"  for c in java mvn rsyslogd openssl promtool prometheus chromium chromedriver; do {cp} {stand_in} {machine.bin}/$c; done",
        f"  {mkdir} -p {gtls} && {touch} {gtls}/lmnsd_gtls.so",
        "fi",
    ]))
    result = machine.run("test")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "make test: installing openjdk-17-jre-headless maven rsyslog rsyslog-gnutls openssl prometheus chromium chromium-driver with apt-get\n"
    assert machine.log.read_text().splitlines() == [
        "update -qq",
        "install -y -qq --no-install-recommends openjdk-17-jre-headless maven rsyslog rsyslog-gnutls openssl prometheus "
        "chromium chromium-driver",
    ]


@pytest.mark.parametrize(("missing", "package"), [
    pytest.param("promtool", "prometheus", id="prometheus-and-promtool"),
    pytest.param("chromedriver", "chromium-driver", id="chromium-and-its-driver"),
])
def test_the_tests_need_a_tool_that_the_demo_does_not(machine: Machine, missing: str, package: str) -> None:
    machine.install_all()
    (machine.bin / missing).unlink()
    machine.command("apt-get", "exit 0")
    result = machine.run("test")
    assert result.returncode == 1
    assert f"run 'sudo apt-get install -y {package}'" in result.stderr
    assert machine.run("demo").returncode == 0


def test_an_old_java_counts_as_missing(machine: Machine) -> None:
    machine.install_all()
    machine.command("java", 'echo \'openjdk version "11.0.21" 2023-10-17\' >&2')
    result = machine.run("demo")
    assert result.returncode == 1 and "openjdk-17-jre-headless" in result.stderr


def test_the_demo_needs_no_java_when_a_broker_is_given_and_never_needs_rsyslog(machine: Machine) -> None:
    result = machine.run("demo", KAFKA_BOOTSTRAP_SERVERS="broker:9092")
    assert (result.returncode, result.stderr) == (0, "")


def test_a_fresh_debian_python_without_ensurepip_needs_python3_venv(machine: Machine) -> None:
    machine.install_all()
    machine.command("python3", "exit 1")  # `import ensurepip` fails on Debian without python3-venv
    result = machine.run("demo")
    assert result.returncode == 1 and "python3-venv" in result.stderr
    machine.venv.joinpath("bin").mkdir(parents=True)
    machine.venv.joinpath("bin", "python").symlink_to("/bin/true")
    assert machine.run("demo").returncode == 0  # once the virtualenv exists it is not needed


def test_make_checks_the_system_packages_before_building_the_virtualenv_or_running_anything() -> None:
    repo = SCRIPT.parents[1]
    for target in ("test", "demo"):
        # Run as a top-level make even when the suite itself runs under `make test`.
        env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
        dry = subprocess.run(["make", "-n", "--no-print-directory", target], cwd=repo, capture_output=True,
                             text=True, timeout=60, env=env)
        first = dry.stdout.splitlines()[0]
        assert first.endswith(f"bash scripts/system-deps.sh {target}"), dry.stdout
