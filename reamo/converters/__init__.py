"""Converters from public dataset formats into Reamo records (DESIGN.md 3.1). Texts are rebuilt by joining
tokens with single spaces; every entity keeps exact character offsets into that text. Where a source
distributes no media (tweets, M2E2, Charades-STA), the record keeps the media id as a relative path."""
from reamo.converters.formats import FORMATS, convert

__all__ = ["FORMATS", "convert"]
