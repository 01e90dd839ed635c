"""User inputs -> loaded media: tensors for the encoder and the media the grounding heads need.

An input item is a dict with any of "text", "image", "audio", "video" (paths, PIL images, arrays, tensors),
or a Record. Loading failures raise typed errors naming the item and modality (e.g. "item 3 image: ...").
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from encoders import preprocess as P
from reamo.model.config import ReamoConfig
from reamo.errors import InputError, UnsupportedModalityError
from reamo.records import Record
from reamo.model.tokens import MEDIA_MODALITIES


@dataclass
class LoadedMedia:
    modality: str
    encoder_input: torch.Tensor  # image [3,S,S]; audio [clips,1,mel,L]; video [clips*crops,3,T,S,S]
    grounding: Any  # image HxWx3 uint8; audio fbank [T, mel] or an AudioStream (long files); video VideoFrames
    duration: float | None = None
    waveform: torch.Tensor | None = None  # audio, for pictures: the samples, or a peak envelope for long files
    source: str | None = None
    waveform_rate: float = P.SAMPLE_RATE  # values per second of `waveform`


@dataclass
class InputItem:
    text: str | None = None
    media: dict[str, Any] = field(default_factory=dict)  # modality -> raw source
    id: str | None = None
    base_dir: Path | None = None  # media paths of records are relative to their JSONL file

    @property
    def modalities(self) -> list[str]:
        return [m for m in MEDIA_MODALITIES if self.media.get(m) is not None]


def as_item(x, index: int = 0, base_dir: str | Path | None = None) -> InputItem:
    """Normalise one user input (dict, Record, or plain string = text) into an InputItem."""
    if isinstance(x, InputItem):
        return x
    if isinstance(x, str):
        return InputItem(text=x, id=str(index))
    if isinstance(x, Record):
        return InputItem(text=x.text, media={m: getattr(x, m) for m in MEDIA_MODALITIES if getattr(x, m)}, id=x.id,
                         base_dir=Path(base_dir) if base_dir else None)
    if isinstance(x, dict):
        unknown = [k for k in x if k not in ("text", "id", *MEDIA_MODALITIES)]
        if unknown:
            raise InputError(f"item {index}", f"unknown input key {unknown[0]!r}; use text, image, audio, video")
        text = x.get("text")
        if text is not None and not isinstance(text, str):
            raise InputError(f"item {index}", f"text must be a string, got {type(text).__name__}")
        return InputItem(text=text, media={m: x[m] for m in MEDIA_MODALITIES if x.get(m) is not None},
                         id=str(x.get("id", index)), base_dir=Path(base_dir) if base_dir else None)
    raise InputError(f"item {index}", f"an input must be a dict, a Record or a string, got {type(x).__name__}")


def load_media(modality: str, src, config: ReamoConfig, name: str, base_dir: Path | None = None) -> LoadedMedia:
    if modality not in config.modalities:
        raise UnsupportedModalityError(modality, config.modalities, input=name)
    if isinstance(src, str) and base_dir is not None and not Path(src).is_absolute():
        src = base_dir / src
    enc = config.encoder
    source = str(src) if isinstance(src, (str, Path)) else None
    if modality == "image":
        rgb = P.load_image_rgb(src, name=name)
        return LoadedMedia("image", P.image_tensor(rgb, enc.image_size), rgb, source=source)
    if modality == "audio":
        stream = _long_audio_file(src, config.media.audio_stream_s, name)
        if stream is not None:
            return LoadedMedia("audio", stream.clips(enc.audio_num_mel_bins, enc.audio_target_len,
                                                     clips=config.media.audio_clips),
                               stream, stream.duration, stream.envelope(ENVELOPE_RATE), source, ENVELOPE_RATE)
        wave, dur = P.load_waveform(src, name=name)
        clips = P.audio_clips(wave, enc.audio_num_mel_bins, enc.audio_target_len, clips=config.media.audio_clips)
        return LoadedMedia("audio", clips, P.fbank_frames(wave, enc.audio_num_mel_bins), dur, wave, source)
    fps = None
    if isinstance(src, tuple) and len(src) == 2:  # (frames, fps)
        src, fps = src
    clips = P.video_clips(src, fps=fps, clip_duration=config.media.video_clip_s, clips=config.media.video_clips,
                          frames_per_clip=enc.video_frames,
                          size=enc.image_size, crops=config.media.video_crops, name=name)
    frames = P.load_video_frames(src, config.grounding.video.num_frames, fps=fps, name=name)
    return LoadedMedia("video", clips, frames, frames.duration, source=source)


ENVELOPE_RATE = 50.0


def _long_audio_file(src, stream_s: float, name: str):
    """An AudioStream for an audio file longer than `stream_s` seconds that soundfile can seek, else None."""
    if not isinstance(src, (str, Path)):
        return None
    import soundfile as sf

    try:
        info = sf.info(str(src))
    except Exception:  # noqa: BLE001 - not seekable by soundfile (or missing): the ordinary loader reports it
        return None
    if info.samplerate <= 0 or info.frames / info.samplerate <= stream_s:
        return None
    return P.AudioStream(src, name=name)


def load_item_media(item: InputItem, config: ReamoConfig, index: int) -> dict[str, LoadedMedia]:
    if not item.text and not item.modalities:
        raise InputError(f"item {index}", "empty input: give text and/or media")
    return {m: load_media(m, item.media[m], config, f"item {index} {m} ({_describe(item.media[m])})", item.base_dir)
            for m in item.modalities}


def _describe(src) -> str:
    if isinstance(src, (str, Path)):
        return str(src)
    shape = getattr(src, "shape", None)
    return f"{type(src).__name__}{tuple(shape) if shape is not None else ''}"
