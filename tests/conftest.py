"""Shared fixtures. Real third-party data lives in ../shared/data (REAMO_SHARED_DATA overrides)."""
import os
import socket
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session", autouse=True)
def _no_leaked_shared_memory():
    """Multi-process tests on the CPU use DeepSpeed's shared-memory allreduce, which leaves 2 x 64 MiB in /dev/shm
    (RAM) per run: remove what this session left (15 GiB had piled up over earlier sessions)."""
    shm = Path("/dev/shm")
    before = set(shm.glob("deepspeed_allreduce_buffer_*")) if shm.is_dir() else set()
    yield
    for p in set(shm.glob("deepspeed_allreduce_buffer_*")) - before if shm.is_dir() else ():
        p.unlink(missing_ok=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def free_port():
    """A function giving a TCP port on 127.0.0.1 that nothing holds (servers and process groups in tests)."""
    return _free_port


def shared_data() -> Path:
    env = os.environ.get("REAMO_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = shared_data()
    if not d.is_dir():
        pytest.skip(f"real data folder {d} is absent (set REAMO_SHARED_DATA to the shared/data folder)")
    return d


@pytest.fixture(scope="session")
def media(data_dir) -> dict:
    m = data_dir / "media"
    return {"flac": m / "jfk.flac", "wav": m / "sample.wav", "mp4": m / "bigbuckbunny.mp4", "mp4_short": m / "realshort.mp4"}


@pytest.fixture(scope="session")
def astronaut_png(tmp_path_factory) -> Path:
    from PIL import Image
    from skimage import data

    p = tmp_path_factory.mktemp("img") / "astronaut.png"
    Image.fromarray(data.astronaut()).save(p)
    return p
