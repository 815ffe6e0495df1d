"""A run of the pipeline: its task, the phases (MLE and D pretraining, the adversarial phase), the narrow interfaces
they receive (recording.py), the orchestration that drives them (pipeline.py), the run directory, checkpoints and the
report a finished run leaves."""
