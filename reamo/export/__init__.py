"""What a result is written as: pictures for people (`visualize`) and the formats other tools read.

    export_results(results, "coco", "out/")   # image masks: COCO results JSON with RLE (+ the images it names)
    export_results(results, "rttm", "out/")   # audio spans: RTTM
    export_results(results, "webvtt", "out/") # audio spans: a WebVTT file per result
    export_results(results, "mot", "out/")    # video tracks: MOT boxes, MOTS masks (COCO RLE), the track list
    export_results(results, "labelstudio", "out/")  # everything, as Label Studio predictions for pre-annotation

`results` are what `Reamo.extract` returns, records, or the dicts of a `reamo extract` JSON/JSONL file. A result
that cannot be written in a format is reported (`ExportReport.skipped`, an ExportError naming it) and the others
are written.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from reamo.errors import ExportError
from reamo.export.audio import write_rttm, write_webvtt
from reamo.export.coco import write_coco
from reamo.export.items import as_export_item
from reamo.export.labelstudio import write_labelstudio
from reamo.export.video import write_mot

FORMATS = {  # name -> (writer, what it writes)
    "coco": (write_coco, "image masks as COCO results JSON with compressed RLE (coco_results.json + coco_images.json)"),
    "rttm": (write_rttm, "audio spans as RTTM (audio.rttm)"),
    "webvtt": (write_webvtt, "audio spans as WebVTT (<id>.vtt per result)"),
    "mot": (write_mot, "video tracks: MOT boxes (<id>.mot.txt), MOTS masks in COCO RLE (<id>.mots.txt), "
                       "<id>.tracks.json"),
    "labelstudio": (write_labelstudio, "everything as Label Studio predictions (labelstudio/<media>/tasks.json + "
                                       "config.xml)"),
}


@dataclass
class ExportReport:
    format: str
    files: list[Path] = field(default_factory=list)
    skipped: list[ExportError] = field(default_factory=list)  # results left out, each naming its id and why


def export_results(results: Iterable[Any], fmt: str, out_dir: str | Path, fps: float | None = None) -> ExportReport:
    """Write `results` in format `fmt` under `out_dir`. `fps`: the video frame rate for MOT and Label Studio
    frame numbers, used when a result does not carry its loaded video (results read back from JSON)."""
    if fmt not in FORMATS:
        raise ExportError(fmt, f"unknown export format; known: {', '.join(FORMATS)}")
    report = ExportReport(fmt)
    items = []
    for i, r in enumerate(results):
        try:
            items.append(as_export_item(r, i))
        except ExportError as e:
            report.skipped.append(e)
    report.files = FORMATS[fmt][0](items, Path(out_dir), report.skipped, fps=fps)
    return report
