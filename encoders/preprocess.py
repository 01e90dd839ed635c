"""Loading and preprocessing of media, matching ImageBind's official preprocessing.

Inputs may be a path (str / Path), a PIL image, a numpy array or a torch tensor:
  image: HxWx3 uint8 (or float in [0, 1]) array/tensor, or PIL image
  audio: 1-D float waveform at 16 kHz, or a (waveform, sample_rate) pair
  video: FxHxWx3 uint8 frames (then `fps` must be given), or a path
Errors are typed and name the input: MediaNotFoundError (missing path, a directory), MediaDecodeError
(empty, corrupt, truncated, silent-NaN, zero frames).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from reamo.errors import MediaDecodeError, MediaError, MediaNotFoundError

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
SAMPLE_RATE = 16000
AUDIO_MEAN, AUDIO_STD = -4.268, 9.138
MAX_IMAGE_PIXELS = 100_000_000


def _name(src, name: str | None) -> str:
    if name:
        return name
    if isinstance(src, (str, Path)):
        return str(src)
    return f"<{type(src).__name__}>"


def _check_path(src, kind: str) -> Path:
    p = Path(src).expanduser()
    if not p.exists():
        raise MediaNotFoundError(p, f"{kind} file not found")
    if p.is_dir():
        raise MediaNotFoundError(p, f"is a directory, not a{'n' if kind[0] in 'aeiou' else ''} {kind} file")
    if p.stat().st_size == 0:
        raise MediaDecodeError(p, f"empty {kind} file")
    return p


# ---- images ----------------------------------------------------------------------------------------------
def load_image_rgb(src, name: str | None = None) -> np.ndarray:
    """Any image input -> HxWx3 uint8 RGB array."""
    from PIL import Image, UnidentifiedImageError

    who = _name(src, name)
    if isinstance(src, (str, Path)):
        p = _check_path(src, "image")
        try:
            with Image.open(p) as im:
                if im.width * im.height > MAX_IMAGE_PIXELS:
                    raise MediaDecodeError(who, f"image is {im.width}x{im.height}, over the {MAX_IMAGE_PIXELS} pixel limit")
                im.load()
                return np.asarray(im.convert("RGB"))
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
            raise MediaDecodeError(who, f"cannot decode image: {e}") from None
    if isinstance(src, Image.Image):
        return np.asarray(src.convert("RGB"))
    arr = src.detach().cpu().numpy() if isinstance(src, torch.Tensor) else np.asarray(src) if isinstance(src, np.ndarray) else None
    if arr is None:
        raise MediaError(who, f"unsupported image input of type {type(src).__name__}")
    if arr.ndim == 3 and arr.shape[0] == 3 and arr.shape[-1] != 3:  # CHW
        arr = arr.transpose(1, 2, 0)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=-1)
    if arr.ndim != 3 or arr.shape[-1] not in (3, 4) or min(arr.shape[:2]) == 0:
        raise MediaDecodeError(who, f"image array has shape {arr.shape}; expected HxWx3")
    arr = arr[..., :3]
    if arr.dtype != np.uint8:
        if not np.isfinite(arr).all():
            raise MediaDecodeError(who, "image array holds NaN or inf")
        arr = np.clip(arr * 255.0 if arr.max() <= 1.0 else arr, 0, 255).round().astype(np.uint8)
    return np.ascontiguousarray(arr)


def image_tensor(rgb: np.ndarray, size: int = 224) -> torch.Tensor:
    """HxWx3 uint8 -> [3, size, size]: resize short side (bicubic), centre crop, CLIP normalisation."""
    from PIL import Image
    from torchvision import transforms

    tf = transforms.Compose([
        transforms.Resize(size, interpolation=transforms.InterpolationMode.BICUBIC),
        transforms.CenterCrop(size),
        transforms.ToTensor(),
        transforms.Normalize(mean=CLIP_MEAN, std=CLIP_STD),
    ])
    return tf(Image.fromarray(rgb))


# ---- audio -----------------------------------------------------------------------------------------------
def _decode_audio_file(p: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        data, sr = sf.read(str(p), dtype="float32", always_2d=True)
        return data.mean(axis=1), sr
    except Exception as first:  # not WAV/FLAC/OGG: try FFmpeg through PyAV
        try:
            import av

            with av.open(str(p)) as container:
                stream = next(s for s in container.streams if s.type == "audio")
                chunks = [f.to_ndarray().astype(np.float32) for f in container.decode(stream)]
                sr = stream.rate
            if not chunks:
                raise ValueError("no audio frames")
            data = np.concatenate([c if c.ndim == 2 else c[None] for c in chunks], axis=1)
            if np.issubdtype(data.dtype, np.integer):
                data = data / np.iinfo(data.dtype).max
            return data.mean(axis=0).astype(np.float32), sr
        except Exception as second:
            raise MediaDecodeError(p, f"cannot decode audio ({first}; {second})") from None


def load_waveform(src, sample_rate: int | None = None, name: str | None = None) -> tuple[torch.Tensor, float]:
    """Any audio input -> (mono float32 waveform at 16 kHz, duration in seconds)."""
    who = _name(src, name)
    if isinstance(src, tuple) and len(src) == 2:
        src, sample_rate = src
    if isinstance(src, (str, Path)):
        data, sr = _decode_audio_file(_check_path(src, "audio"))
        wave = torch.from_numpy(np.ascontiguousarray(data))
    elif isinstance(src, (np.ndarray, torch.Tensor)):
        wave = torch.as_tensor(src).float()
        if wave.ndim == 2:
            wave = wave.mean(dim=0 if wave.shape[0] < wave.shape[1] else 1)
        if wave.ndim != 1:
            raise MediaDecodeError(who, f"waveform has shape {tuple(wave.shape)}; expected 1-D samples")
        sr = sample_rate or SAMPLE_RATE
    else:
        raise MediaError(who, f"unsupported audio input of type {type(src).__name__}")
    if wave.numel() == 0:
        raise MediaDecodeError(who, "audio has no samples")
    if not torch.isfinite(wave).all():
        raise MediaDecodeError(who, "audio holds NaN or inf samples")
    if sr <= 0:
        raise MediaDecodeError(who, f"bad sample rate {sr}")
    if sr != SAMPLE_RATE:
        import torchaudio

        wave = torchaudio.functional.resample(wave[None], orig_freq=int(sr), new_freq=SAMPLE_RATE)[0]
    if wave.numel() < 400:  # shorter than one 25 ms analysis window
        raise MediaDecodeError(who, f"audio is too short ({wave.numel() / SAMPLE_RATE * 1000:.1f} ms)")
    return wave.contiguous(), wave.numel() / SAMPLE_RATE


def _kaldi_fbank(wave: torch.Tensor, num_mel_bins: int) -> torch.Tensor:
    import torchaudio

    wave = wave - wave.mean()
    return torchaudio.compliance.kaldi.fbank(
        wave[None], htk_compat=True, sample_frequency=SAMPLE_RATE, use_energy=False, window_type="hanning",
        num_mel_bins=num_mel_bins, dither=0.0, frame_length=25, frame_shift=10)


def clip_starts(duration: float, clip_duration: float, clips: int) -> list[tuple[float, float]]:
    """Evenly spaced clips over the media (the official ConstantClipsPerVideoSampler)."""
    max_start = Fraction(max(duration - clip_duration, 0))
    step = max_start / max(clips - 1, 1)
    out = []
    for i in range(clips):
        start = step * i
        if i > 0 and start > max_start:
            break
        out.append((float(start), float(start + Fraction(clip_duration))))
    return out


def audio_clips(wave: torch.Tensor, num_mel_bins: int = 128, target_length: int = 204, clip_duration: float = 2,
                clips: int = 3) -> torch.Tensor:
    """Waveform at 16 kHz -> [clips, 1, mel_bins, target_length] normalised kaldi fbanks (official)."""
    out = []
    for start, end in clip_starts(wave.numel() / SAMPLE_RATE, clip_duration, clips):
        out.append(_clip_fbank(wave[int(start * SAMPLE_RATE): int(end * SAMPLE_RATE)], num_mel_bins, target_length))
    return torch.stack(out)


def _clip_fbank(seg: torch.Tensor, num_mel_bins: int, target_length: int) -> torch.Tensor:
    fb = _kaldi_fbank(seg, num_mel_bins).transpose(0, 1)
    p = target_length - fb.shape[1]
    fb = F.pad(fb, (0, p)) if p > 0 else fb[:, :target_length]
    return ((fb - AUDIO_MEAN) / AUDIO_STD)[None]


def fbank_frames(wave: torch.Tensor, num_mel_bins: int = 128) -> torch.Tensor:
    """The whole waveform's kaldi fbank at 100 frames/s: [T, mel_bins], normalised like the clips."""
    return (_kaldi_fbank(wave, num_mel_bins) - AUDIO_MEAN) / AUDIO_STD


# ---- long audio, streamed from its file ---------------------------------------------------------------------
def release_memory() -> None:
    """Give freed heap memory back to the system (glibc's malloc_trim; nothing elsewhere)."""
    global _TRIM
    if _TRIM is None:
        try:
            import ctypes

            _TRIM = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _TRIM = False
    if _TRIM:
        _TRIM(0)


_TRIM = None
FRAME_SHIFT, FRAME_LENGTH = 160, 400  # kaldi fbank at 16 kHz: 10 ms hop, 25 ms window (snip_edges)


class AudioStream:
    """An audio file read in windows, never whole: the clips the encoder needs are read by seeking, and the
    fbank frames of the grounding head come window by window (`fbank_windows`), each window's frames equal to
    the whole file's frames at the same positions (kaldi removes each frame's DC offset, so no global state
    is needed). Files soundfile can seek (WAV, FLAC, OGG); memory does not grow with the length."""

    def __init__(self, path: str | Path, name: str | None = None):
        import soundfile as sf

        self.path = _check_path(path, "audio")
        self.who = _name(path, name)
        try:
            info = sf.info(str(self.path))
        except Exception as e:
            raise MediaDecodeError(self.who, f"cannot decode audio: {e}") from None
        if info.frames <= 0 or info.samplerate <= 0:
            raise MediaDecodeError(self.who, "audio has no samples")
        self.file_rate, self.file_frames = int(info.samplerate), int(info.frames)
        self.duration = self.file_frames / self.file_rate
        self.num_samples = int(round(self.duration * SAMPLE_RATE))  # at 16 kHz
        if self.num_samples < FRAME_LENGTH:
            raise MediaDecodeError(self.who, f"audio is too short ({self.duration * 1000:.1f} ms)")

    def read(self, start: int, end: int) -> torch.Tensor:
        """Mono float32 samples [start, end) at 16 kHz."""
        import soundfile as sf

        r = self.file_rate / SAMPLE_RATE
        a, b = int(math.floor(start * r)), int(math.ceil(min(end, self.num_samples) * r))
        try:
            with sf.SoundFile(str(self.path)) as f:
                f.seek(a)
                data = f.read(max(0, b - a), dtype="float32", always_2d=True).mean(axis=1)
        except Exception as e:
            raise MediaDecodeError(self.who, f"cannot decode audio at {start / SAMPLE_RATE:.1f} s: {e}") from None
        wave = torch.from_numpy(np.ascontiguousarray(data))
        if not torch.isfinite(wave).all():
            raise MediaDecodeError(self.who, "audio holds NaN or inf samples")
        if self.file_rate != SAMPLE_RATE:
            import torchaudio

            wave = torchaudio.functional.resample(wave[None], orig_freq=self.file_rate, new_freq=SAMPLE_RATE)[0]
        return wave[: max(0, min(end, self.num_samples) - start)]

    @property
    def num_frames(self) -> int:
        return 1 + (self.num_samples - FRAME_LENGTH) // FRAME_SHIFT

    def fbank_windows(self, window_frames: int, num_mel_bins: int = 128):
        """Yield the normalised fbank frames [T, mel] of consecutive windows of `window_frames` frames. After
        each window the freed memory goes back to the system (`release_memory`): the windows' arrays are a few
        MB each, and glibc would otherwise keep them on a heap that grows with the recording's length."""
        for f0 in range(0, self.num_frames, window_frames):
            f1 = min(self.num_frames, f0 + window_frames)
            wave = self.read(f0 * FRAME_SHIFT, (f1 - 1) * FRAME_SHIFT + FRAME_LENGTH)
            frames = (_kaldi_fbank(wave, num_mel_bins) - AUDIO_MEAN) / AUDIO_STD
            del wave
            yield frames
            del frames
            release_memory()

    def clips(self, num_mel_bins: int = 128, target_length: int = 204, clip_duration: float = 2,
              clips: int = 3) -> torch.Tensor:
        """The encoder's clips (as `audio_clips`), each read by seeking."""
        out = []
        for start, end in clip_starts(self.duration, clip_duration, clips):
            seg = self.read(int(start * SAMPLE_RATE), int(end * SAMPLE_RATE))
            out.append(_clip_fbank(seg, num_mel_bins, target_length))
        return torch.stack(out)

    def envelope(self, rate: float = 50.0, block_s: float = 60.0) -> torch.Tensor:
        """The peak absolute amplitude per 1/rate seconds (for pictures): one pass over the file through one
        reused buffer (fresh arrays per block fragmented the heap: RSS grew with the length)."""
        import soundfile as sf

        hop = max(1, int(round(self.file_rate / rate)))  # in file samples: the envelope needs no resampling
        block = max(hop, int(block_s * self.file_rate) // hop * hop)
        out = np.zeros(self.file_frames // hop + 1, np.float32)
        n = 0
        try:
            with sf.SoundFile(str(self.path)) as f:
                buf = np.empty((block, f.channels), np.float32)
                for chunk in f.blocks(dtype="float32", always_2d=True, out=buf):
                    k = len(chunk) // hop
                    if k:
                        peaks = np.abs(chunk[: k * hop]).reshape(k, hop, -1).max(axis=(1, 2))
                        out[n: n + k] = peaks
                        n += k
        except Exception as e:
            raise MediaDecodeError(self.who, f"cannot decode audio: {e}") from None
        return torch.from_numpy(out[: max(n, 1)].copy())


# ---- video -----------------------------------------------------------------------------------------------
@dataclass
class VideoFrames:
    frames: np.ndarray  # [F, H, W, 3] uint8
    timestamps: np.ndarray  # [F] seconds
    duration: float
    fps: float


class _Video:
    """Random access to frames: decord for files, or an in-memory array."""

    def __init__(self, src, fps: float | None, name: str | None):
        self.who = _name(src, name)
        self.array = None
        if isinstance(src, (str, Path)):
            p = _check_path(src, "video")
            import decord

            try:
                self.reader = decord.VideoReader(str(p), ctx=decord.cpu(0))
                n = len(self.reader)
                self.fps = float(self.reader.get_avg_fps())
            except Exception as e:
                raise MediaDecodeError(self.who, f"cannot decode video: {e}") from None
        elif isinstance(src, (np.ndarray, torch.Tensor)):
            arr = src.detach().cpu().numpy() if isinstance(src, torch.Tensor) else src
            if arr.ndim != 4 or arr.shape[-1] != 3:
                raise MediaDecodeError(self.who, f"video array has shape {arr.shape}; expected FxHxWx3")
            self.array = arr.astype(np.uint8) if arr.dtype == np.uint8 else np.clip(arr * 255, 0, 255).astype(np.uint8)
            n = arr.shape[0]
            self.fps = float(fps or 1.0)
        else:
            raise MediaError(self.who, f"unsupported video input of type {type(src).__name__}")
        if n == 0 or not self.fps or not math.isfinite(self.fps):
            raise MediaDecodeError(self.who, "video has no frames")
        self.n = n
        self.duration = n / self.fps

    def get(self, idx: list[int]) -> np.ndarray:
        if not idx:
            raise MediaDecodeError(self.who, "no frames in the requested time range")
        if self.array is not None:
            return self.array[idx]
        try:
            out = self.reader.get_batch(idx)  # an NDArray, or a tensor when decord's torch bridge is on
            return out.asnumpy() if hasattr(out, "asnumpy") else out.numpy()
        except Exception as e:
            raise MediaDecodeError(self.who, f"cannot decode frames {idx[:3]}...: {e}") from None


def load_video_frames(src, num_frames: int = 8, fps: float | None = None, name: str | None = None) -> VideoFrames:
    """`num_frames` frames sampled uniformly over the video (centres of equal segments)."""
    v = _Video(src, fps, name)
    k = min(num_frames, v.n)
    idx = [min(v.n - 1, int((i + 0.5) * v.n / k)) for i in range(k)]
    return VideoFrames(v.get(idx), np.array(idx, dtype=np.float64) / v.fps, v.duration, v.fps)


def video_clips(src, fps: float | None = None, clip_duration: float = 2, clips: int = 5, frames_per_clip: int = 2,
                size: int = 224, crops: int = 3, name: str | None = None) -> torch.Tensor:
    """Video -> [clips * crops, 3, frames_per_clip, size, size] (official ImageBind video preprocessing)."""
    v = _Video(src, fps, name)
    mean = torch.tensor(CLIP_MEAN)[:, None, None, None]
    std = torch.tensor(CLIP_STD)[:, None, None, None]
    out = []
    for start, end in clip_starts(v.duration, clip_duration, clips):
        first, last = math.ceil(v.fps * start), min(math.ceil(v.fps * end), v.n)
        frames = torch.from_numpy(v.get(list(range(first, last)))).float()  # T,H,W,C
        t = frames.shape[0]
        pick = torch.linspace(0, t - 1, frames_per_clip).clamp(0, t - 1).long()
        clip = frames[pick].permute(3, 0, 1, 2) / 255.0  # C,T,H,W
        c, t, h, w = clip.shape
        nh, nw = (int(math.floor(h / w * size)), size) if w < h else (size, int(math.floor(w / h * size)))
        clip = F.interpolate(clip, size=(nh, nw), mode="bilinear", align_corners=False)
        clip = (clip - mean) / std
        for idx in ([0, 1, 2] if crops == 3 else [1]):
            out.append(_crop(clip, size, idx))
    return torch.stack(out)


def _crop(clip: torch.Tensor, size: int, idx: int) -> torch.Tensor:
    h, w = clip.shape[-2:]
    y, x = int(math.ceil((h - size) / 2)), int(math.ceil((w - size) / 2))
    if h > w:
        y = 0 if idx == 0 else (h - size if idx == 2 else y)
    else:
        x = 0 if idx == 0 else (w - size if idx == 2 else x)
    return clip[..., y: y + size, x: x + size]
