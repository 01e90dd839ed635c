"""Extraction with a trained model: batched generation, parsing, grounding (`extract`), the `reamo extract`
command (`cli`) and inference split over many processes (`sharding`)."""
