"""Records with their media as webdataset tar shards: the form phase data takes when it is too large for one JSONL
file and a folder of media (millions of images), read back as a stream.

A sample is `KEY.record.json` (the record; its `image` / `audio` / `video` field names the member that holds the
medium, e.g. "image.jpg") and one member per medium (`KEY.image.jpg`, `KEY.audio.wav`, `KEY.video.mp4`). KEY is a
running number; the record keeps its own id. Any tar reader reads them; `webdataset.WebDataset(urls)` gives dicts
keyed "record.json", "image.jpg", ...

Shards are written with webdataset's ShardWriter and read here with the standard library (fsspec for URLs), so
that reading needs neither torch nor the whole shard in memory.
"""
from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from reamo.errors import RecordError
from reamo.records.record import MODALITIES, Record

MEDIA = tuple(m for m in MODALITIES if m != "text")
RECORD_MEMBER = "record.json"


@dataclass
class Sample:
    """A record and its media: modality -> (file extension, bytes or a path to read them from)."""
    record: Record
    media: dict[str, tuple[str, bytes | Path]] = field(default_factory=dict)

    def media_bytes(self, modality: str) -> bytes:
        ext, src = self.media[modality]
        return src if isinstance(src, bytes) else Path(src).read_bytes()


def _member(modality: str, ext: str) -> str:
    return f"{modality}.{ext.lstrip('.').lower()}"


def write_shards(samples: Iterable[Sample], out: str | Path, maxcount: int = 10000, prefix: str = "shard") -> dict:
    """Write `samples` as out/PREFIX-000000.tar, ... (at most `maxcount` samples a shard); returns counts."""
    import webdataset as wds

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    media: dict[str, int] = {}
    with wds.ShardWriter(str(out / f"{prefix}-%06d.tar"), maxcount=maxcount, verbose=0) as sink:
        for s in samples:
            rec = Record.from_dict(s.record.to_dict())
            entry = {"__key__": f"{n:09d}"}
            for m in MEDIA:
                setattr(rec, m, None)
            for m, (ext, _) in s.media.items():
                name = _member(m, ext)
                setattr(rec, m, name)
                entry[name] = s.media_bytes(m)
                media[m] = media.get(m, 0) + 1
            entry[RECORD_MEMBER] = json.dumps(rec.to_dict(), ensure_ascii=False).encode()
            sink.write(entry)
            n += 1
    return {"samples": n, "media": media, "shards": sorted(p.name for p in out.glob(f"{prefix}-*.tar"))}


def write_folder(samples: Iterable[Sample], out: str | Path, name: str = "records.jsonl") -> dict:
    """Write `samples` as out/NAME (JSONL) with their media under out/media/: the form phase configs read."""
    out = Path(out)
    (out / "media").mkdir(parents=True, exist_ok=True)
    n = 0
    media: dict[str, int] = {}
    tmp = out / (name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for s in samples:
            rec = Record.from_dict(s.record.to_dict())
            for m, (ext, _) in s.media.items():
                rel = f"media/{n:09d}.{_member(m, ext)}"
                (out / rel).write_bytes(s.media_bytes(m))
                setattr(rec, m, rel)
                media[m] = media.get(m, 0) + 1
            f.write(json.dumps(rec.to_dict(), ensure_ascii=False) + "\n")
            n += 1
    tmp.replace(out / name)
    return {"samples": n, "media": media, "file": name}


def _open(url: str):
    if "://" in url:
        import fsspec

        return fsspec.open(url, "rb").open()
    return open(url, "rb")


def iter_tar(url: str) -> Iterator[tuple[str, dict[str, bytes]]]:
    """(key, {member suffix: bytes}) per sample of one tar, streamed (members of a key are consecutive)."""
    key, group = None, {}
    with _open(url) as fh, tarfile.open(fileobj=fh, mode="r|*") as tar:
        for info in tar:
            if not info.isfile():
                continue
            base = info.name.rsplit("/", 1)[-1]
            k, _, suffix = base.partition(".")
            if k != key and group:
                yield key, group
                group = {}
            key = k
            group[suffix] = tar.extractfile(info).read()
    if group:
        yield key, group


def iter_shard_samples(url: str, errors: list[RecordError] | None = None) -> Iterator[Sample]:
    """The samples of one Reamo shard, as Samples whose media are bytes. A sample without a readable record.json
    (or whose record names a member that is missing) raises RecordError naming shard and key, unless `errors` is
    given: then it goes there and reading goes on."""
    for key, group in iter_tar(url):
        try:
            if RECORD_MEMBER not in group:
                raise ValueError(f"no {RECORD_MEMBER}")
            rec = Record.from_dict(json.loads(group[RECORD_MEMBER]))
            media = {}
            for m in MEDIA:
                name = getattr(rec, m)
                if name is not None:
                    if name not in group:
                        raise ValueError(f"its {m} member {name!r} is missing")
                    media[m] = (name.partition(".")[2], group[name])
            yield Sample(rec, media)
        except (ValueError, TypeError, UnicodeDecodeError) as e:
            err = RecordError(url, None, f"sample {key}: {e}")
            if errors is None:
                raise err from None
            errors.append(err)


def shard_urls(spec: str | Path | list) -> list[str]:
    """Shard URLs from a folder (its *.tar, sorted), a brace pattern ("data/shard-{000000..000099}.tar", any fsspec
    URL) or a list of either."""
    if isinstance(spec, (list, tuple)):
        return [u for s in spec for u in shard_urls(s)]
    spec = str(spec)
    if "://" not in spec and Path(spec).is_dir():
        return [str(p) for p in sorted(Path(spec).glob("*.tar"))]
    from braceexpand import braceexpand

    return list(braceexpand(spec))
