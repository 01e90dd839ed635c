"""Pictures of results: labels name the extracted item, one colour per item across modalities, masks and boxes
drawn where the grounding says."""
import numpy as np
import torch

from reamo.model.inputs import LoadedMedia
from reamo.records.masks import rle_encode
from reamo.records import Entity
from reamo.records.results import ExtractionResult, InstructionResult
from reamo.export.visualize import audio_picture, draw_result, grounded_items, image_overlay, label_colours, video_strip


def _result():
    rgb = np.full((40, 60, 3), 200, np.uint8)
    mask = np.zeros((40, 60), bool)
    mask[10:20, 5:25] = True
    img_g = {"box": [5, 10, 24, 19], "mask_rle": rle_encode(mask)}
    aud_g = {"spans": [[0.5, 1.0]]}
    r = ExtractionResult("x", "ner", text="Alice walks Rex",
                         entities=[Entity("Alice", "person", 0, 5), Entity("Rex", "animal", 12, 15)])
    r.instructions = [InstructionResult("ImageSegmentation", "the woman", [("entity", 0)], img_g),
                      InstructionResult("AudioSegmentation", "Alice", [("entity", 0)], aud_g),
                      InstructionResult("AudioSegmentation", "Rex", [("entity", 1)], {"spans": []}),
                      InstructionResult("ImageSegmentation", "ghost", [], None, error="no image")]
    wave = torch.sin(torch.arange(32000) / 10.0)
    r.loaded = {"image": LoadedMedia("image", torch.zeros(1), rgb),
                "audio": LoadedMedia("audio", torch.zeros(1), None, 2.0, wave)}
    return r, mask


def test_groundings_are_labelled_by_item_with_one_colour_each():
    r, _ = _result()
    items = grounded_items(r)
    assert [lab for lab, _, _ in items["image"]] == ["Alice"]  # the entity, not the phrase "the woman"
    assert [lab for lab, _, _ in items["audio"]] == ["Alice", "Rex"]
    assert items["image"][0][2] == items["audio"][0][2] != items["audio"][1][2]  # Alice: same colour everywhere
    assert list(label_colours(r)) == ["Alice", "Rex"]


def test_image_overlay_colours_the_mask_only():
    r, mask = _result()
    out = image_overlay(r)
    assert out.shape == (40, 60, 3) and out.dtype == np.uint8
    inside = out[12:18, 8:22].reshape(-1, 3).mean(0)
    assert inside[0] > inside[1] + 40  # Alice's colour is red: the masked area turned red
    assert (out[30:, 40:] == 200).all()  # far from mask and box: untouched


def test_audio_and_missing_modalities(tmp_path):
    r, _ = _result()
    pic = audio_picture(r, gold=[("Alice", [[0.4, 1.1]])])
    assert pic.ndim == 3 and pic.shape[2] == 3 and pic.std() > 0
    assert video_strip(r) is None  # no video in this result
    assert draw_result(r, tmp_path / "r.png", gold_audio=[("Alice", [[0.4, 1.1]])]).stat().st_size > 0
