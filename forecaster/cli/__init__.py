"""The `forecaster` command: the composition root (parse, call the library, print)."""
