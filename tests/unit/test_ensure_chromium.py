"""Issue 13 item 12: `make test` sets up the browser tests' chromium itself, or says the one command.

scripts/ensure_chromium.sh runs for real against a fake chromium path and fake `id`, `sudo` and
`apt-get` first on PATH, so no package is installed or removed here.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "ensure_chromium.sh"
COMMAND = "sudo apt-get install -y --no-install-recommends chromium"


def _tool(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


@pytest.fixture
def fake(tmp_path):
    """(run(uid, sudo_ok) -> CompletedProcess, chromium path, apt-get call log)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    chromium = tmp_path / "usr" / "lib" / "chromium" / "chromium"
    log = tmp_path / "apt.log"
    lists = tmp_path / "lists"
    # Like a fresh Debian: install fails until `apt-get update` has fetched the package lists.
    _tool(
        bin_dir,
        "apt-get",
        f'echo "$0 $*" >> {log}\n'
        f'case "$1" in\n'
        f"  update) touch {lists} ;;\n"
        f"  install) [ -e {lists} ] || exit 100; mkdir -p {chromium.parent}; "
        f"printf '#!/bin/sh\\n' > {chromium}; chmod +x {chromium} ;;\n"
        f"esac\n",
    )

    def run(uid: int, sudo_ok: bool) -> subprocess.CompletedProcess:
        _tool(bin_dir, "id", f"echo {uid}\n")
        _tool(bin_dir, "sudo", f'[ "$1" = -n ] && shift\n{"" if sudo_ok else "exit 1"}\nexec "$@"\n')
        env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "CHROMIUM_PATH": str(chromium)}
        return subprocess.run(["sh", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30)

    return run, chromium, log


def test_present_chromium_needs_nothing(fake):
    run, chromium, log = fake
    chromium.parent.mkdir(parents=True)
    chromium.write_text("#!/bin/sh\n")
    chromium.chmod(0o755)
    result = run(uid=1000, sudo_ok=False)
    assert result.returncode == 0, result.stderr
    assert not log.exists()


def test_root_installs_it_updating_the_package_lists_when_needed(fake):
    run, chromium, log = fake
    result = run(uid=0, sudo_ok=False)
    assert result.returncode == 0, result.stderr
    calls = [line.split(" ", 1)[1] for line in log.read_text().splitlines()]
    assert calls == [
        "install -y --no-install-recommends chromium",
        "update",
        "install -y --no-install-recommends chromium",
    ]
    assert os.access(chromium, os.X_OK)


def test_passwordless_sudo_installs_it(fake):
    run, chromium, log = fake
    result = run(uid=1000, sudo_ok=True)
    assert result.returncode == 0, result.stderr
    assert "install -y --no-install-recommends chromium" in log.read_text()
    assert os.access(chromium, os.X_OK)


def test_a_user_who_cannot_install_gets_one_line_with_the_command(fake):
    run, chromium, log = fake
    result = run(uid=1000, sudo_ok=False)
    assert result.returncode != 0
    assert not log.exists(), "nothing was attempted"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and COMMAND in lines[0] and str(chromium) in lines[0], result.stderr


def test_make_test_sets_up_chromium_before_the_suite():
    dry = subprocess.run(
        ["make", "-n", "test"], cwd=REPO, capture_output=True, text=True, timeout=60, check=True
    ).stdout.splitlines()
    ensure = next(i for i, line in enumerate(dry) if "ensure_chromium.sh" in line)
    pytest_line = next(i for i, line in enumerate(dry) if "-m pytest" in line)
    lint = next(i for i, line in enumerate(dry) if "ruff check" in line)
    assert ensure < lint < pytest_line, dry
