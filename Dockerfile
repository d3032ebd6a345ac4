# One image for the api and the worker: the same commands as the README.
FROM python:3.11-slim
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 \
    PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1
WORKDIR /app
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY forecaster ./forecaster
COPY api ./api
COPY flows ./flows
COPY migrations ./migrations
COPY alembic.ini ./
RUN pip install -e .
EXPOSE 8000
CMD ["forecaster", "serve", "--host", "0.0.0.0", "--port", "8000"]
