"""The open zero-shot benchmark: `build` makes BENCH/<combo>/<set>.jsonl from public data (converters) with a
manifest; `speech` speaks text sets into WAV files with word times (espeak-ng) for the audio variants.
`reamo eval --model M --benchmark BENCH` (reamo.evaluation.runner) runs it."""
