"""The frozen-encoder embedding cache."""
import numpy as np
import torch

from encoders import ImageBindConfig
from encoders.cache import EmbeddingCache
from encoders.imagebind import EncoderOutput


def test_hit_miss_config_and_corruption(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return EncoderOutput(torch.randn(1, 8), torch.randn(1, 4, 8))

    img = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    cache = EmbeddingCache(tmp_path, ImageBindConfig.tiny())
    a = cache.get_or_compute("image", img, compute)
    b = cache.get_or_compute("image", img, compute)
    assert len(calls) == 1 and cache.hits == 1
    torch.testing.assert_close(a.pooled, b.pooled, rtol=0, atol=0)
    torch.testing.assert_close(a.tokens, b.tokens, rtol=0, atol=0)
    other = EmbeddingCache(tmp_path, ImageBindConfig.tiny(vision_num_blocks=2))
    other.get_or_compute("image", img, compute)
    assert len(calls) == 2  # another encoder config misses
    cache.get_or_compute("image", img + 1, compute)
    assert len(calls) == 3  # other content misses
    for f in tmp_path.rglob("*.safetensors"):
        f.write_bytes(b"garbage")
    c = cache.get_or_compute("image", img, compute)
    assert len(calls) == 4 and c.pooled.shape == (1, 8)  # corrupt entry recomputed
    f = tmp_path / "file.bin"
    f.write_bytes(b"abc")
    assert cache.key("audio", f) == cache.key("audio", f) != cache.key("image", f)
