"""Evaluation: MUIE metrics (DESIGN.md section 7), scoring prediction files, the benchmark runner, reports."""
