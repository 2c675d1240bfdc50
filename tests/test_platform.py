"""How Cadre runs: the platform/ folder must not shadow Python's stdlib `platform`, and the
compose file must describe the five services. No database needed."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLATFORM_DIR = ROOT / "platform"
COMPOSE_FILE = ROOT / "docker-compose.yml"


def test_platform_import_is_the_stdlib_module():
    import platform

    assert isinstance(platform.system(), str) and platform.system()
    assert platform.__file__ is not None  # a namespace package (our folder) has no __file__
    module_path = Path(platform.__file__).resolve()
    assert PLATFORM_DIR.resolve() not in module_path.parents, module_path


def test_platform_folder_is_not_a_python_package():
    assert PLATFORM_DIR.is_dir()
    assert not (PLATFORM_DIR / "__init__.py").exists(), (
        "platform/__init__.py shadows Python's stdlib `platform` module (breaks uuid, numpy, gunicorn, Celery)"
    )


def test_tests_folder_is_not_a_python_package():
    assert not (ROOT / "tests" / "__init__.py").exists()


def test_platform_scripts_exist_and_are_executable():
    for name in ("services.sh", "test.sh", "setup.sh", "run.sh", "lib.sh", "Dockerfile", "gunicorn.conf.py"):
        assert (PLATFORM_DIR / name).is_file(), name
    for name in ("services.sh", "test.sh", "setup.sh", "run.sh"):
        assert (PLATFORM_DIR / name).stat().st_mode & 0o111, f"platform/{name} is not executable"


def test_gunicorn_config_reads_port_and_concurrency(monkeypatch):
    monkeypatch.setenv("PORT", "8123")
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.delenv("BIND", raising=False)
    namespace: dict = {"__file__": str(PLATFORM_DIR / "gunicorn.conf.py")}
    exec(compile((PLATFORM_DIR / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), namespace)
    assert namespace["bind"] == "0.0.0.0:8123"
    assert namespace["workers"] == 3
    assert namespace["accesslog"] == "-"


def test_compose_file_has_the_five_services():
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load(COMPOSE_FILE.read_text())
    services = config["services"]
    for name in ("web", "worker", "beat", "postgres", "redis"):
        assert name in services, name
    for name in ("web", "worker", "beat"):
        assert services[name]["build"]["dockerfile"] == "platform/Dockerfile"
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "healthcheck" in services["postgres"] and "healthcheck" in services["redis"]
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["redis"]["image"].startswith("redis:7")


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose is not installed")
def test_docker_compose_config_validates():
    result = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
