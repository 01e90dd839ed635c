"""Reamo: recognise, extract and ground entities, relations and events across text, images, audio and video.

Heavy modules load lazily: `from reamo import Reamo` imports torch and transformers, `import reamo` does not.
"""
__version__ = "0.1.0"

_LAZY = {
    "Reamo": "reamo.api",
    "ReamoConfig": "reamo.model.config",
    "ReamoModel": "reamo.model.modeling",
    "ExtractionResult": "reamo.records.results",
    "export_results": "reamo.export",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'reamo' has no attribute {name!r}")
