"""The web demo: `reamo demo --model DIR` serves a Gradio page over the public API (`Reamo.from_pretrained`,
`Reamo.extract`, the visualisers). `service` answers batches of requests without Gradio; `app` is the page."""
from reamo.demo.service import DemoLimits, DemoRequest, DemoResponse, DemoService, parse_labels

__all__ = ["DemoLimits", "DemoRequest", "DemoResponse", "DemoService", "parse_labels"]
