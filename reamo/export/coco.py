"""Image masks as COCO results: `coco_results.json` (a list of {image_id, category_id, segmentation (compressed
RLE), bbox, score}, what detectron2, mmdetection and pycocotools' COCOeval read) beside `coco_images.json` (the
images and categories those ids refer to), so that `COCO("coco_images.json").loadRes("coco_results.json")` loads
them. Each result also keeps `reamo`: the record id, the item's kind and words."""
from __future__ import annotations

import json
from pathlib import Path

from reamo.errors import ExportError
from reamo.export.items import ExportItem, grounded

RESULTS_FILE, IMAGES_FILE = "coco_results.json", "coco_images.json"


def coco_bbox(box: list) -> list[int]:
    """[x1, y1, x2, y2) (the record format) -> COCO's [x, y, width, height]."""
    x1, y1, x2, y2 = (int(v) for v in box)
    return [x1, y1, x2 - x1, y2 - y1]


def write_coco(items: list[ExportItem], out_dir: Path, skipped: list[ExportError], fps: float | None = None) -> list[Path]:
    images, results, categories = [], [], {}
    for it in items:
        rec = it.record
        found = list(grounded(rec, "image"))
        if not found:
            continue
        try:
            sizes = {tuple(int(v) for v in g.grounding["mask_rle"]["size"]) for g in found}
        except (KeyError, TypeError, ValueError):
            skipped.append(ExportError(rec.id, "an image grounding has no mask_rle with a size"))
            continue
        if len(sizes) != 1:
            skipped.append(ExportError(rec.id, f"image masks of different sizes {sorted(sizes)}"))
            continue
        (h, w), image_id = sizes.pop(), len(images) + 1
        images.append({"id": image_id, "file_name": rec.image or rec.id, "height": h, "width": w, "reamo_id": rec.id})
        for g in found:
            cat = categories.setdefault(g.label, len(categories) + 1)
            rle = g.grounding["mask_rle"]
            res = {"image_id": image_id, "category_id": cat,
                   "segmentation": {"size": [h, w], "counts": rle["counts"]},
                   "score": float(g.grounding.get("score", 1.0)),
                   "reamo": {"id": rec.id, "kind": g.kind, "text": g.text}}
            if g.grounding.get("box"):
                res["bbox"] = coco_bbox(g.grounding["box"])
            results.append(res)
    out_dir.mkdir(parents=True, exist_ok=True)
    cats = [{"id": i, "name": n, "supercategory": "reamo"} for n, i in categories.items()]
    (out_dir / IMAGES_FILE).write_text(json.dumps(
        {"info": {"description": "Reamo extraction results"}, "images": images, "categories": cats, "annotations": []},
        ensure_ascii=False))
    (out_dir / RESULTS_FILE).write_text(json.dumps(results, ensure_ascii=False))
    return [out_dir / RESULTS_FILE, out_dir / IMAGES_FILE]
