"""Query-following accuracy: by hand on masks and spans (a head that segments the most salient object whatever
the instruction fails it), and teacher-forced extraction on generated test records."""
import numpy as np
import pytest

from reamo.api import Reamo
from reamo.errors import InputError
from reamo.evaluation.query_following import QueryFollowing, query_following
from reamo.records.masks import rle_encode
from reamo.records import read_jsonl
from reamo.synth import generate_corpus


def _mask(x0, x1):
    m = np.zeros((10, 20), bool)
    m[2:8, x0:x1] = True
    return {"mask_rle": rle_encode(m)}


def test_by_hand():
    left, right = _mask(0, 8), _mask(12, 20)
    q = QueryFollowing()
    q.add("image", [left, right], [left, right])  # each query gets its own object: 2 of 2
    q.add("image", [left, left], [left, right])  # the salient object whatever the query: 1 of 2
    q.add("image", [None, _mask(9, 11)], [left, right])  # nothing, and a mask touching neither: 0 of 2
    q.add("audio", [{"spans": [[0.0, 1.0]]}, {"spans": [[2.0, 2.5]]}],
          [{"spans": [[0.0, 0.9]]}, {"spans": [[1.9, 3.0]]}])  # 2 of 2
    d = q.to_dict()
    assert d["image"] == {"cases": 6, "hits": 3, "accuracy": 0.5}
    assert d["audio"]["accuracy"] == 1.0 and d["video"]["accuracy"] is None


def test_teacher_forced_extract_and_the_metric_on_generated_records(tmp_path):
    corpus = tmp_path / "corpus"
    generate_corpus(corpus, {"train": 1, "dev": 1, "test": 40}, seed=5)
    test = list(read_jsonl(corpus / "test.jsonl"))
    reamo = Reamo.from_config("tiny").eval()
    r = test[0]
    from reamo.records.formats import answer_and_groundings

    answer, grounded = answer_and_groundings(r)
    res = reamo.extract(r, task=r.task, schema=r.schema, base_dir=corpus, answers=answer)
    assert res.raw_output == answer and len(res.instructions) == len(grounded)
    with pytest.raises(InputError, match="answers"):
        reamo.extract([r, r], task=r.task, schema=r.schema, base_dir=corpus, answers=[answer])
    d = query_following(reamo, test, base_dir=corpus)
    assert sum(v["cases"] for v in d.values()) > 0
    for v in d.values():
        assert v["accuracy"] is None or 0.0 <= v["accuracy"] <= 1.0
