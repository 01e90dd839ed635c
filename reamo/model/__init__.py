"""The network and what feeds it: config, LLM + LoRA + special tokens, projector, prompts, processor, media
inputs, the model, checkpoints (media -> encoders -> projector -> LLM; the grounding heads are in grounding/)."""
