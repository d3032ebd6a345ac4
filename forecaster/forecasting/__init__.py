"""Train a model on a frame, forecast with intervals, evaluate it and save/restore it exactly."""
