"""Preprocessing matches the official ImageBind functions on real files; bad inputs get typed errors."""
import numpy as np
import pytest
import torch

from encoders import preprocess as P
from reamo.errors import MediaDecodeError, MediaError, MediaNotFoundError

data_mod = pytest.importorskip("imagebind.data", reason="official ImageBind reference code (scripts/install.sh)")


def test_image_matches_official(astronaut_png):
    ref = data_mod.load_and_transform_vision_data([str(astronaut_png)], "cpu")[0]
    torch.testing.assert_close(P.image_tensor(P.load_image_rgb(astronaut_png)), ref, rtol=0, atol=1e-5)


def test_audio_matches_official_pipeline(media):
    # the official loader reads files with torchaudio.load (needs torchcodec, absent here), so we feed the
    # official clip sampler and fbank function the same waveform
    from pytorchvideo.data.clip_sampling import ConstantClipsPerVideoSampler
    from torchvision import transforms

    wave, dur = P.load_waveform(media["flac"])
    assert 10.5 < dur < 11.5
    tps = data_mod.get_clip_timepoints(ConstantClipsPerVideoSampler(clip_duration=2, clips_per_video=3), dur)
    norm = transforms.Normalize(mean=-4.268, std=9.138)
    ref = torch.stack([norm(data_mod.waveform2melspec(wave[None, int(a * 16000): int(b * 16000)].clone(), 16000, 128, 204))
                       for a, b in tps])
    torch.testing.assert_close(P.audio_clips(wave), ref, rtol=0, atol=1e-5)


def test_video_matches_official(media):
    ref = data_mod.load_and_transform_video_data([str(media["mp4"])], "cpu")[0]
    torch.testing.assert_close(P.video_clips(media["mp4"]), ref, rtol=0, atol=1e-5)


def test_resampling_and_array_inputs(media):
    wave8k = np.sin(np.linspace(0, 2000, 8000 * 3)).astype(np.float32)
    w, dur = P.load_waveform((wave8k, 8000))
    assert w.shape == (48000,) and abs(dur - 3.0) < 1e-6
    wav, _ = P.load_waveform(media["wav"])
    assert P.fbank_frames(wav).shape[1] == 128 and abs(P.fbank_frames(wav).shape[0] - 3000) < 5
    frames = P.load_video_frames(media["mp4"], num_frames=6)
    assert frames.frames.shape[0] == 6 and frames.frames.dtype == np.uint8
    assert np.all(np.diff(frames.timestamps) > 0) and frames.timestamps[-1] < frames.duration
    arr = P.video_clips(np.zeros((10, 64, 80, 3), np.uint8), fps=5.0)
    assert arr.shape == (15, 3, 2, 224, 224)


def _numbered_video() -> np.ndarray:
    """12 frames of 32 x 32 RGB, frame i filled with the value i * 20 (2 s at 6 fps)."""
    return np.repeat((np.arange(12, dtype=np.uint8) * 20)[:, None, None, None], 32, 1).repeat(32, 2).repeat(3, 3)


def test_short_video_clips_see_its_middle_only_when_clips_are_shorter():
    """A 2-s video (12 frames at 6 fps, frame i filled with i * 20): the official 2-s clips all cover the whole
    video and take its first and last frame; 0.5-s clips spread over it and take frames from its middle."""
    video = _numbered_video()

    def frames_seen(clips):  # the source frame behind each sampled frame, from its (uniform) pixel value
        px = clips[:, 0, :, 16, 16] * P.CLIP_STD[0] + P.CLIP_MEAN[0]
        return sorted({int(round(v * 255 / 20)) for v in px.flatten().tolist()})

    official = P.video_clips(video, fps=6.0, clips=4, size=32, crops=1)
    assert frames_seen(official) == [0, 11]
    short = P.video_clips(video, fps=6.0, clip_duration=0.5, clips=4, size=32, crops=1)
    assert short.shape == (4, 3, 2, 32, 32) and len(frames_seen(short)) == 8
    assert min(frames_seen(short)) == 0 and max(frames_seen(short)) == 11


def _truncate(src, dst, keep=0.3):
    b = src.read_bytes()
    dst.write_bytes(b[: int(len(b) * keep)])
    return dst


@pytest.mark.parametrize("kind", ["image", "audio", "video"])
def test_missing_directory_empty(kind, tmp_path):
    load = {"image": P.load_image_rgb, "audio": P.load_waveform, "video": lambda p: P.load_video_frames(p)}[kind]
    with pytest.raises(MediaNotFoundError, match="nope"):
        load(tmp_path / "nope.bin")
    with pytest.raises(MediaNotFoundError, match="directory"):
        load(tmp_path)
    (tmp_path / "empty.bin").write_bytes(b"")
    with pytest.raises(MediaDecodeError, match="empty"):
        load(tmp_path / "empty.bin")


def test_corrupt_and_truncated_files(tmp_path, astronaut_png, media):
    with pytest.raises(MediaDecodeError, match="truncated.png"):
        P.load_image_rgb(_truncate(astronaut_png, tmp_path / "truncated.png"))
    (tmp_path / "noise.jpg").write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(MediaDecodeError, match="noise.jpg"):
        P.load_image_rgb(tmp_path / "noise.jpg")
    with pytest.raises(MediaDecodeError, match="noise.jpg"):
        P.load_waveform(tmp_path / "noise.jpg")
    with pytest.raises(MediaDecodeError, match="cut.mp4"):
        P.video_clips(_truncate(media["mp4"], tmp_path / "cut.mp4", keep=0.05))


def test_bad_waveforms():
    with pytest.raises(MediaDecodeError, match="no samples"):
        P.load_waveform(np.zeros(0, np.float32))
    with pytest.raises(MediaDecodeError, match="NaN"):
        P.load_waveform(np.full(16000, np.nan, np.float32), name="audio[3]")
    with pytest.raises(MediaDecodeError, match="too short"):
        P.load_waveform(np.zeros(100, np.float32))
    with pytest.raises(MediaError, match="unsupported"):
        P.load_waveform({"not": "audio"})
    with pytest.raises(MediaDecodeError, match="shape"):
        P.load_image_rgb(np.zeros((4, 4, 4, 4)))


def test_load_media_takes_the_clip_length_from_the_config():
    from reamo.model.config import ReamoConfig
    from reamo.model.inputs import load_media

    video = _numbered_video()
    cfgs = [ReamoConfig.named("tiny", {"media.video_clips": 4, "media.video_crops": 1, "media.video_clip_s": s})
            for s in (2.0, 0.5)]
    official, short = (load_media("video", (video, 6.0), c, "v").encoder_input for c in cfgs)
    assert official.shape == short.shape and torch.equal(official[0], official[3])  # every 2-s clip: frames 0, 11
    assert not torch.equal(short[0], short[3])
