"""The Gradio page: inputs on the left, the extraction and its groundings on the right, examples below.

    reamo demo --model runs/quickstart/model [--host 127.0.0.1] [--port 7860]

One model serves everyone: the run button's event goes through Gradio's queue with `batch=True`, so requests
that arrive together are answered by one batched `Reamo.extract` (`DemoService.run`), one batch at a time.
Uploads are plain files (gr.File): Reamo's own loaders decode them, so a corrupt or unsupported file comes back
as a message on the page instead of failing inside Gradio's preprocessing for the whole batch.
"""
from __future__ import annotations

from pathlib import Path

from reamo.demo.examples import EXAMPLE_COLUMNS, corpus_examples, real_text_examples, shared_media_examples
from reamo.demo.service import TABLE_HEADERS, DemoLimits, DemoRequest, DemoService

HOW_TO_GET_A_MODEL = """reamo demo needs a trained model folder (--model DIR). To make one on this machine:

    reamo quickstart --out runs/quickstart          # trains all four phases on a generated corpus
    reamo demo --model runs/quickstart/model

Any folder written by Reamo.save_pretrained works, e.g. OUT/final of `reamo train`."""

INTRO = """# Reamo demo
Extract **entities, relations or events** from text, an image, audio and video (any mix), and see where each
one is in the media: masks and boxes on the image, time spans on the waveform, a tracklet through the video.
Model: `{model}`."""


def build_app(service: DemoService, examples: list[list] | None = None, max_batch_size: int = 8):
    import gradio as gr

    def run(texts, images, audios, videos, tasks, labels):
        reqs = [DemoRequest(t, i, a, v, (k or "ner").lower(), lab or "")
                for t, i, a, v, k, lab in zip(texts, images, audios, videos, tasks, labels)]
        outs = service.run(reqs)
        return [[o.status for o in outs], [o.table for o in outs], [o.image for o in outs],
                [o.audio for o in outs], [o.video for o in outs], [o.raw_answer for o in outs],
                [o.json_path for o in outs]]

    with gr.Blocks(title="Reamo") as app:
        gr.Markdown(INTRO.format(model=service.model_name))
        with gr.Row():
            with gr.Column(scale=2):
                text = gr.Textbox(label="Text", lines=3, elem_id="reamo-text")
                with gr.Row():
                    image = gr.File(label="Image", type="filepath", elem_id="reamo-image")
                    audio = gr.File(label="Audio", type="filepath", elem_id="reamo-audio")
                    video = gr.File(label="Video", type="filepath", elem_id="reamo-video")
                task = gr.Radio(["ner", "re", "ee"], value="ner", label="Task (NER, RE, EE)", elem_id="reamo-task")
                labels = gr.Textbox(label="Labels: comma-separated; for EE one event type per line, roles after "
                                          "a colon ('Contact:Meet: Entity')", value=service.default_labels,
                                    elem_id="reamo-labels")
                button = gr.Button("Run", variant="primary", elem_id="reamo-run")
            with gr.Column(scale=3):
                status = gr.Markdown("Results appear here.", elem_id="reamo-status")
                table = gr.Dataframe(headers=TABLE_HEADERS, label="Extracted", interactive=False,
                                     elem_id="reamo-table")
                with gr.Tabs():
                    with gr.Tab("Image"):
                        image_out = gr.Image(label="Masks and boxes", type="numpy", height=420, elem_id="reamo-image-out")
                    with gr.Tab("Audio"):
                        audio_out = gr.Image(label="Waveform and spans", type="numpy", height=260, elem_id="reamo-audio-out")
                    with gr.Tab("Video"):
                        video_out = gr.Image(label="Frames and tracklet", type="numpy", height=260, elem_id="reamo-video-out")
                    with gr.Tab("Raw answer"):
                        raw = gr.Textbox(label="The model's answer with its meta-response", lines=6,
                                         elem_id="reamo-raw")
                json_out = gr.File(label="Result as JSON", elem_id="reamo-json")
        inputs = [text, image, audio, video, task, labels]
        button.click(run, inputs, [status, table, image_out, audio_out, video_out, raw, json_out], batch=True,
                     max_batch_size=max_batch_size, api_name="extract", concurrency_limit=1)
        if examples:
            gr.Examples(examples=examples, inputs=inputs, label="Examples (click one, then Run)",
                        examples_per_page=12)
    app.queue(max_size=64)
    return app


def example_rows(model_dir: Path | None, examples: str | None, shared_data: str | None, workdir: Path) -> list:
    rows = []
    corpus = Path(examples) if examples else (model_dir.parent / "corpus" if model_dir else None)
    if corpus is not None:
        rows += corpus_examples(corpus)
    from reamo.paths import default_shared_data

    data = shared_data if shared_data else default_shared_data()
    rows += real_text_examples(data)
    rows += shared_media_examples(data, workdir)
    assert all(len(r) == len(EXAMPLE_COLUMNS) for r in rows)
    return rows


def run_demo(args) -> int:
    """`reamo demo`: load the model, build the page, serve it until interrupted."""
    import sys

    if not args.model:
        print(HOW_TO_GET_A_MODEL, file=sys.stderr)
        return 2
    from reamo.api import Reamo

    model_dir = Path(args.model)
    reamo = Reamo.load(model_dir)
    limits = DemoLimits(max_audio_seconds=args.max_audio_seconds, max_video_seconds=args.max_video_seconds,
                        max_new_tokens=args.max_new_tokens)
    service = DemoService(reamo.eval(merge_lora=True), limits, model_name=str(model_dir))
    rows = example_rows(model_dir if model_dir.is_dir() else None, args.examples, args.shared_data, service.workdir)
    if rows and rows[0][4] == "ner":
        service.default_labels = rows[0][5]
    app = build_app(service, rows, max_batch_size=args.batch_size)
    allowed = sorted({str(Path(p).resolve().parent) for r in rows for p in r[1:4] if p} | {str(service.workdir)})
    print(f"serving {model_dir} on http://{args.host}:{args.port} ({len(rows)} examples)", flush=True)
    app.launch(server_name=args.host, server_port=args.port, allowed_paths=allowed, show_error=False,
               footer_links=["api"], quiet=False)
    return 0
