"""Training data built from public corpora: the phase-1 mixture of text IE sets (`reamo data mix`), with a
manifest of what went in. Reads the formats of `reamo.converters`; writes Reamo records (JSONL)."""
from reamo.corpora.labels import LabelSampling, sample_labels
from reamo.corpora.mixture import MixtureConfig, SourceConfig, build_mixture

__all__ = ["LabelSampling", "MixtureConfig", "SourceConfig", "build_mixture", "sample_labels"]
