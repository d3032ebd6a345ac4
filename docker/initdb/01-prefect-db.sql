-- The Prefect server keeps its own database beside the forecaster's.
CREATE DATABASE prefect OWNER forecaster;
