"""Forecaster: time-series forecasting with scheduled retraining."""
