"""The deployment files, checked by the tools that read them (issue 9 item 8).

* ``systemd-analyze verify`` on the repository's unit (its /opt/dialer paths
  pointed at this checkout, as scripts/install points them at the installation;
  tests/integration/test_deploy.py verifies the unit an install really wrote).
* ``docker compose config`` on docker/compose.yaml. The Docker CLI here has no
  compose plugin and no engine runs; Debian's ``docker-compose`` (installed by
  scripts/setup) validates the file against the Compose schema without an
  engine, so that is used when ``docker compose`` is missing. Then the parsed
  file is checked against the Dockerfiles (images, volumes, paths).
* The Asterisk image and the sandbox build Asterisk with the same steps: both
  source scripts/asterisk-build.sh and call its functions, and those functions
  give the same configuration either way.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "systemd" / "dialer.service"
COMPOSE = REPO / "docker" / "compose.yaml"
BUILD_SCRIPT = REPO / "scripts" / "asterisk-build.sh"
ASTERISK_DOCKERFILE = REPO / "docker" / "asterisk.Dockerfile"
DIALER_DOCKERFILE = REPO / "docker" / "Dockerfile"
SANDBOX = REPO / "scripts" / "asterisk-sandbox"


def _tool_missing(what: str) -> None:
    """Skip with the reason, except in CI, where scripts/setup must have installed it."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing: scripts/setup installs it")
    pytest.skip(f"{what} is missing (scripts/setup installs it)")


def test_systemd_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        _tool_missing("systemd-analyze (Debian package systemd)")
    assert (REPO / ".venv/bin/dialer").exists()
    unit = tmp_path / "dialer.service"
    unit.write_text(UNIT.read_text().replace("/opt/dialer", str(REPO)))
    done = subprocess.run(
        [str(analyze), "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    # verify exits 0 even for a directive it ignores: its output must be empty too
    assert done.returncode == 0 and done.stdout + done.stderr == "", done.stderr
    text = UNIT.read_text()
    for line in (
        "User=dialer",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "Restart=on-failure",
        "ReadWritePaths=/var/lib/dialer /var/lib/dialer-sounds",
        "UMask=0027",
        "KillSignal=SIGTERM",
    ):
        assert re.search(rf"^{re.escape(line)}$", text, re.M), line


def test_systemd_analyze_catches_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: a typo in a directive is reported."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        _tool_missing("systemd-analyze (Debian package systemd)")
    unit = tmp_path / "dialer.service"
    text = UNIT.read_text().replace("/opt/dialer", str(REPO))
    unit.write_text(text.replace("ProtectSystem=strict", "ProtectSystem=stricter"))
    done = subprocess.run(
        [str(analyze), "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert "protect system value" in done.stdout + done.stderr


def _compose_command() -> list[str]:
    docker = shutil.which("docker")
    if docker is not None:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, text=True, timeout=30
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy is None:
        _tool_missing("docker compose / docker-compose (Debian package docker-compose)")
    return [str(legacy)]


def _compose_config(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_compose_command(), "-f", str(path), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_compose_file_is_valid_for_docker_compose_without_an_engine(tmp_path: Path) -> None:
    done = _compose_config(COMPOSE)
    assert done.returncode == 0, done.stderr
    config = yaml.safe_load(done.stdout)
    assert set(config["services"]) == {"asterisk", "dialer"}
    # and the validation bites: a misspelt option is refused
    broken = tmp_path / "compose.yaml"
    broken.write_text(COMPOSE.read_text().replace("restart:", "restrat:", 1))
    refused = _compose_config(broken)
    assert refused.returncode != 0 and "restrat" in refused.stderr + refused.stdout


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def _mounts(service: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """container path -> (source, mode)."""
    mounts = {}
    for spec in service.get("volumes", []):
        source, target, *mode = spec.split(":")
        mounts[target] = (source, mode[0] if mode else "rw")
    return mounts


def test_compose_matches_the_dockerfiles() -> None:
    compose = _compose()
    services = compose["services"]
    declared = set(compose.get("volumes", {}))
    for name, service in services.items():
        build = service["build"]
        context = (COMPOSE.parent / build["context"]).resolve()
        assert context == REPO, name
        dockerfile = context / build["dockerfile"]
        assert dockerfile.exists(), f"{name}: {dockerfile} missing"
        # every COPY source exists in the build context
        for line in dockerfile.read_text().splitlines():
            if line.startswith("COPY "):
                *sources, _dest = line.split()[1:]
                for source in sources:
                    assert (context / source).exists(), f"{dockerfile.name}: COPY {source}"
        # every named volume used is declared (bind mounts start with / or .)
        for source, _mode in _mounts(service).values():
            if not source.startswith(("/", ".")):
                assert source in declared, f"{name}: volume {source} not declared"
    dialer, asterisk = services["dialer"], services["asterisk"]
    dockerfile = DIALER_DOCKERFILE.read_text()
    assert 'ENTRYPOINT ["dialer"]' in dockerfile and dialer["command"] == ["serve"]
    # the settings file lives in the data volume, which holds database, key and secrets
    data_mounts = _mounts(dialer)
    config_path = Path(dialer["environment"]["DIALER_CONFIG"])
    assert data_mounts[str(config_path.parent)][0] == "dialer-data"
    # the image prepares that folder for its non-root user (a fresh volume copies it)
    user = re.search(r"^USER (\S+)$", dockerfile, re.M)
    assert user and user.group(1) not in ("root", "0")
    assert str(config_path.parent) in dockerfile
    # Asterisk reads the sounds the dialer writes, at the same path, read-only
    sounds = str(config_path.parent / "sounds")
    assert data_mounts[sounds] == ("sounds", "rw")
    assert _mounts(asterisk)[sounds] == ("sounds", "ro")
    # SIGTERM drains calls: docker must wait longer than engine.drain_seconds (60 s)
    grace = re.fullmatch(r"(\d+)s", dialer["stop_grace_period"])
    assert grace and int(grace.group(1)) > 60
    assert dialer["network_mode"] == asterisk["network_mode"] == "host"


def _shell(script: str) -> str:
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _code(path: Path) -> str:
    """A shell script or Dockerfile without its comment lines."""
    return "\n".join(
        line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")
    )


def test_asterisk_image_and_the_sandbox_call_the_same_build_script() -> None:
    dockerfile = _code(ASTERISK_DOCKERFILE)
    sandbox = _code(SANDBOX)
    # the image copies the shared script and runs its steps
    assert "COPY scripts/asterisk-build.sh /tmp/asterisk-build.sh" in dockerfile
    run = dockerfile[dockerfile.index("RUN ") :]
    assert ". /tmp/asterisk-build.sh" in run
    assert "$ASTERISK_DEB_PACKAGES" in run and "install_asterisk_conf " in run
    # the sandbox sources the very same file and uses the same names
    assert '. "$REPO/scripts/asterisk-build.sh"' in sandbox
    assert "$ASTERISK_DEB_PACKAGES" in sandbox or "${ASTERISK_DEB_PACKAGES" in sandbox
    assert "$ASTERISK_DEB_SUITE" in sandbox and "install_asterisk_conf " in sandbox
    # neither defines its own package list or copies asterisk_conf/ itself
    assert "apt-get install" not in sandbox.replace("apt-get install -y -q debootstrap", "")
    assert "asterisk_conf/*.conf" not in sandbox + dockerfile
    # the image's Debian suite is the script's
    suite = _shell(f". {BUILD_SCRIPT}; printf %s $ASTERISK_DEB_SUITE")
    assert re.search(rf"^FROM debian:{suite}(-slim)?$", dockerfile, re.M)


def test_shared_conf_step_gives_the_image_and_the_sandbox_the_same_files(tmp_path: Path) -> None:
    """install_asterisk_conf as the Dockerfile calls it (stock files already in
    /etc/asterisk) and as the sandbox calls it (stock files copied from the
    rootfs, then the test-only overlay): the district's files are identical."""
    stock = tmp_path / "stock"
    stock.mkdir()
    names = _shell(f'. {BUILD_SCRIPT}; printf %s "$ASTERISK_STOCK_FILES"').split()
    for name in names:
        (stock / f"{name}.conf").write_text(f"; Debian's stock {name}.conf\n")
    image = tmp_path / "image-etc-asterisk"
    shutil.copytree(stock, image)  # the package installed them in /etc/asterisk
    sandbox = tmp_path / "sandbox-etc-asterisk"
    _shell(
        f". {BUILD_SCRIPT}; install_asterisk_conf {REPO} {image} {image}; "
        f"install_asterisk_conf {REPO} {sandbox} {stock} {REPO}/asterisk_conf/sandbox"
    )
    overlay = {p.name for p in (REPO / "asterisk_conf" / "sandbox").glob("*.conf")}
    image_files = {p.name: p.read_bytes() for p in image.glob("*.conf")}
    sandbox_files = {p.name: p.read_bytes() for p in sandbox.glob("*.conf")}
    assert set(sandbox_files) - overlay == set(image_files)
    for name, content in image_files.items():
        assert sandbox_files[name] == content, name
    district = {p.name for p in (REPO / "asterisk_conf").glob("*.conf")}
    assert district <= set(image_files) and {f"{n}.conf" for n in names} <= set(image_files)
