"""Converters from public dataset formats into Reamo records (DESIGN.md 3.1), one module per dataset family
(conll, tweets, mnre, m2e2, doc_events, triples, maven, ace, ontonotes, moments) and the registry of format names. Texts are rebuilt
by joining tokens with single spaces; every span keeps exact character offsets into that text. Where a source
distributes no media (tweets, MNRE, M2E2, the moment sets), the record names the media by a relative path and
lists the modality in `extra["media_absent"]`, so evaluation uses the modalities that exist."""
from reamo.converters.registry import FORMATS, convert, formats_help, read_format

__all__ = ["FORMATS", "convert", "formats_help", "read_format"]
