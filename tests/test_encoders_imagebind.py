"""Our ImageBind towers against the official code: same weights -> same outputs on real media."""
import time

import pytest
import torch

from encoders import ImageBindConfig, ImageBindEncoder, ImageBindModel, load_imagebind_checkpoint
from encoders import preprocess as P
from reamo.errors import CheckpointError, UnsupportedModalityError

official = pytest.importorskip("imagebind.models.imagebind_model", reason="official ImageBind reference code "
                               "(installed by scripts/install.sh from requirements-reference.txt)")

TINY_OFFICIAL = dict(video_frames=2, kernel_size=(2, 14, 14), out_embed_dim=64, vision_embed_dim=32,
                     vision_num_blocks=2, vision_num_heads=2, text_embed_dim=32, text_num_blocks=2,
                     text_num_heads=2, audio_embed_dim=32, audio_num_blocks=2, audio_num_heads=2,
                     audio_drop_path=0.1, depth_embed_dim=16, depth_num_blocks=1, depth_num_heads=2,
                     thermal_embed_dim=16, thermal_num_blocks=1, thermal_num_heads=2, imu_embed_dim=16,
                     imu_num_blocks=1, imu_num_heads=2)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """The official model (all six towers) saved as a .pth, loaded into ours through our loader."""
    torch.manual_seed(0)
    ref = official.ImageBindModel(**TINY_OFFICIAL).eval()
    path = tmp_path_factory.mktemp("ck") / "imagebind_tiny.pth"
    torch.save(ref.state_dict(), path)
    cfg = ImageBindConfig.tiny(vision_num_blocks=2, audio_num_blocks=2, text_num_blocks=2, audio_drop_path=0.1,
                               checkpoint=str(path))
    ours = ImageBindEncoder(cfg)
    return ref, ours, path


def test_checkpoint_loads_strictly_and_reports_unused_towers(pair):
    ref, ours, path = pair
    model = ImageBindModel(ours.cfg)
    dropped = load_imagebind_checkpoint(model, path)
    assert {k.split(".")[1] for k in dropped} == {"depth", "thermal", "imu"}
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, ref.state_dict()[k], rtol=0, atol=0)


def test_parity_on_real_media(pair, astronaut_png, media):
    ref, ours, _ = pair
    img = P.image_tensor(P.load_image_rgb(astronaut_png))[None]
    wave, _ = P.load_waveform(media["flac"])
    aud = P.audio_clips(wave)[None]
    vid = P.video_clips(media["mp4"])[None]
    text = torch.randint(1, 49000, (2, 77))
    text[:, 10] = 49407  # end-of-text token
    with torch.no_grad():
        expected = ref({"vision": img, "audio": aud, "text": text})
        expected_video = ref({"vision": vid})["vision"]
        got = {m: ours.encode(m, x) for m, x in (("image", img), ("audio", aud), ("text", text), ("video", vid))}
    torch.testing.assert_close(got["image"].pooled, expected["vision"], rtol=0, atol=1e-5)
    torch.testing.assert_close(got["audio"].pooled, expected["audio"], rtol=0, atol=1e-5)
    torch.testing.assert_close(got["text"].pooled, expected["text"], rtol=0, atol=1e-5)
    torch.testing.assert_close(got["video"].pooled, expected_video, rtol=0, atol=1e-5)
    # token-level features: one per patch, in the joint space
    assert got["image"].tokens.shape == (1, 256, 64)
    assert got["audio"].tokens.shape == (1, 3 * 12 * 19, 64)
    assert got["video"].tokens.shape == (1, 15 * 256, 64)


def test_huge_state_dict_matches_official_keys_and_shapes():
    t = time.time()
    from accelerate import init_empty_weights

    with init_empty_weights():  # parameters on the meta device: shapes without memory
        ref = official.imagebind_huge(pretrained=False)
        ours = ImageBindModel(ImageBindConfig.huge())
    ref_sd = {k: v.shape for k, v in ref.state_dict().items() if k.split(".")[1] in ("vision", "audio", "text")}
    our_sd = {k: v.shape for k, v in ours.state_dict().items()}
    assert our_sd == ref_sd
    n = {tw: sum(p.numel() for k, p in ours.named_parameters() if k.split(".")[1] == tw) for tw in ("vision", "audio", "text")}
    assert n["vision"] > 600e6 and 80e6 < n["audio"] < 90e6 and 300e6 < n["text"] < 360e6, n
    assert time.time() - t < 60


def test_loader_refuses_missing_extra_and_pickled(tmp_path, pair):
    ref, ours, path = pair
    sd = torch.load(path, weights_only=True)
    model = ImageBindModel(ours.cfg)
    missing = dict(sd)
    missing.pop("modality_heads.vision.2.weight")
    torch.save(missing, tmp_path / "missing.pth")
    with pytest.raises(CheckpointError, match="modality_heads.vision.2.weight"):
        load_imagebind_checkpoint(model, tmp_path / "missing.pth")
    extra = dict(sd, **{"modality_trunks.vision.blocks.9.norm_1.weight": torch.ones(32)})
    torch.save(extra, tmp_path / "extra.pth")
    with pytest.raises(CheckpointError, match="blocks.9.norm_1"):
        load_imagebind_checkpoint(model, tmp_path / "extra.pth")

    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    torch.save({"x": Payload()}, tmp_path / "pickled.pth")
    with pytest.raises(CheckpointError, match="refused|only plain tensors"):
        load_imagebind_checkpoint(model, tmp_path / "pickled.pth")
    with pytest.raises(CheckpointError, match="not found"):
        load_imagebind_checkpoint(model, tmp_path / "nope.pth")


def test_unbuilt_tower_is_a_typed_error():
    enc = ImageBindEncoder(ImageBindConfig.tiny(towers=["vision"]))
    with pytest.raises(UnsupportedModalityError, match="audio"):
        enc.encode("audio", torch.zeros(1, 1, 128, 204))


def test_encoder_is_frozen_and_stays_in_eval():
    enc = ImageBindEncoder(ImageBindConfig.tiny(audio_drop_path=0.1))
    enc.train()
    assert not enc.model.training and not any(p.requires_grad for p in enc.parameters())
