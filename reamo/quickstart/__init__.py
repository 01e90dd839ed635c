"""`reamo quickstart`: generate a grounded corpus, train the recipe's phases on a CPU under DeepSpeed, evaluate on
the held-out test split before and after training, print the tables, draw the pictures, save the model.

    reamo quickstart --out runs/quickstart                   # SmolLM2-135M-Instruct + LoRA (configs/quickstart/smollm2.yaml)
    reamo quickstart --out runs/qs-smoke --smoke             # the same recipe at CI size
    reamo quickstart --out runs/qs-tiny --recipe tiny        # a small LLaMA trained from scratch (unit scale)
    reamo quickstart --out runs/qs-mspit --recipe mspit      # LLaVA-MS-PIT's curriculum, then phases 3 and 4

  recipe.py   the recipe (YAML): which model, and per phase the epochs, trainable groups and learning rates
  report.py   targets, the before/after table, the per-combination table, resources, the pictures
  run.py      the run itself
"""
from reamo.quickstart.run import run_quickstart

__all__ = ["run_quickstart"]
