# One image for the api, the worker and the one-shot migration: the same commands as the README.
FROM python:3.11-slim
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 \
    PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1
WORKDIR /app
# The CPU torch by default; a GPU image takes the CUDA build of the same version:
#   docker build --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 .
# (the wheels carry the CUDA runtime; the host needs the NVIDIA driver and container toolkit)
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN pip install torch==2.13.0 --index-url ${TORCH_INDEX}
COPY pyproject.toml README.md ./
COPY forecaster ./forecaster
COPY api ./api
COPY flows ./flows
COPY migrations ./migrations
COPY alembic.ini ./
RUN pip install -e . \
 && useradd --system --uid 10001 --home-dir /home/forecaster --create-home forecaster \
 && chown forecaster /app
# Not root: the API and the worker need no privileges; Prefect's home is the user's own.
USER forecaster
ENV PREFECT_HOME=/home/forecaster/.prefect
EXPOSE 8000
CMD ["forecaster", "serve", "--host", "0.0.0.0", "--port", "8000"]
