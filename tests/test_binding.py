"""reamo.model.binding: which items are bound to which, the loss's values and gradients, and the model's use of it."""
import torch

from reamo.model.binding import binding_loss, binding_pairs, media_rows
from test_modeling import inputs, make_batch, reamo  # noqa: F401 - the model tests' tiny model, inputs and batches


def test_media_rows_reads_the_placeholders_of_each_row():
    ids = torch.tensor([[5, 7, 0], [6, 5, 0], [1, 2, 3], [7, 6, 6]])
    assert media_rows(ids, {"image": 5, "audio": 6, "video": 7}) == {"image": [0, 1], "audio": [1, 3],
                                                                      "video": [0, 3]}


def test_pairs_bind_each_medium_to_the_highest_ranked_other_medium_of_its_row():
    # row 0: image + video; row 1: image + audio; row 2: audio alone; row 3: video + audio; row 4: all three
    rows = {"image": [0, 1, 4], "video": [0, 3, 4], "audio": [1, 2, 3, 4]}
    assert binding_pairs(rows) == [
        ("video", 0, "image", 0),  # row 0
        ("video", 2, "image", 2),  # row 4: video's third item, image's third
        ("audio", 0, "image", 1),  # row 1
        ("audio", 2, "video", 1),  # row 3: no image there, so video anchors
        ("audio", 3, "image", 2),  # row 4: the image, not the video
    ]
    assert binding_pairs({"audio": [0, 1]}) == [] and binding_pairs({}) == []


def test_loss_is_zero_for_bound_embeddings_and_moves_only_the_pulled_medium():
    torch.manual_seed(0)
    image = torch.randn(2, 8, requires_grad=True)
    audio = torch.randn(2, 8, requires_grad=True)
    rows = {"image": [0, 1], "audio": [0, 1]}
    assert binding_loss({"image": image, "audio": 3.0 * image.detach()}, rows).abs().item() < 1e-6  # cosine: scale-free
    loss = binding_loss({"image": image, "audio": audio}, rows)
    assert 0 < loss.item() <= 2
    loss.backward()
    assert image.grad is None and audio.grad.abs().sum() > 0
    assert binding_loss({"audio": audio}, {"audio": [0, 1]}) is None


def test_model_adds_the_weighted_binding_loss_only_when_asked(reamo, inputs):
    from training.batch import Batch
    from training.config import LossWeights

    batch, media = make_batch(reamo, ["T+I+A", "V+A", "T"], inputs)
    b = Batch(batch["input_ids"], batch["attention_mask"], batch["labels"], media)
    off = reamo.model.training_losses(b, LossWeights())
    assert "bind_loss" not in off
    on = reamo.model.training_losses(b, LossWeights(bind=2.0))
    assert on["bind_loss"].item() > 0
    torch.testing.assert_close(on["loss"], off["loss"] + 2.0 * on["bind_loss"], rtol=1e-5, atol=1e-5)
    # the two pairs (audio -> image in row 0, audio -> video in row 1), computed here from the projector
    proj = {m: reamo.model.media_embeddings(m, media).view(media.count(m), reamo.config.media_tokens[m], -1)[:, 0]
            for m in ("image", "audio", "video")}
    cos = torch.nn.functional.cosine_similarity
    expect = ((1 - cos(proj["audio"][0], proj["image"][0], dim=0)) + (1 - cos(proj["audio"][1], proj["video"][0], dim=0))) / 2
    torch.testing.assert_close(on["bind_loss"], expect.detach(), rtol=1e-5, atol=1e-5)
    # rows with one medium each bind nothing
    single, smedia = make_batch(reamo, ["I", "A"], inputs)
    sb = Batch(single["input_ids"], single["attention_mask"], single["labels"], smedia)
    assert "bind_loss" not in reamo.model.training_losses(sb, LossWeights(bind=1.0))
