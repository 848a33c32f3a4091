# syntax=docker/dockerfile:1
# One image for every Phoenyra service; compose.yaml picks the command
# (phoenyra exchange | market-feed | bess-telemetry | webapp | simulate-bess).

ARG PYTHON_VERSION=3.11
ARG NODE_VERSION=20

# -- front-end assets: built with npm when the project has a package.json --------------------
FROM node:${NODE_VERSION}-bookworm-slim AS assets
WORKDIR /build
COPY . .
RUN mkdir -p src/phoenyra/exchange/static \
    && if [ -f package.json ]; then \
        if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; \
        else npm install --no-audit --no-fund; fi \
        && npm run build --if-present; \
    fi

# -- wheels for the project and every dependency (no compiler needed at runtime) ------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
# A C compiler for the matching core's mypyc build (the runtime image has none).
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY pyproject.toml README.md ./
COPY src ./src
# The built CSS/JS replace the sources' static files (unchanged when there is no package.json),
# and the exchange's API docs get their vendored Swagger UI.
COPY --from=assets /build/src/phoenyra/webapp/static ./src/phoenyra/webapp/static
COPY --from=assets /build/src/phoenyra/exchange/static ./src/phoenyra/exchange/static
# The web app's message catalogues (.po) compiled to the .mo files Flask-Babel reads, the
# Brotli/gzip copies of the static files that WhiteNoise serves (as `make assets` does), and the
# matching core compiled with mypyc into the package (as `make compile` does).
RUN if [ -d src/phoenyra/webapp/translations ]; then \
        pip install "babel>=2.12" && pybabel compile -d src/phoenyra/webapp/translations; \
    fi \
    && pip install "whitenoise[brotli]>=6.6" \
    && python -m whitenoise.compress -q src/phoenyra/webapp/static \
    && pip install "mypy==2.4.*" "setuptools>=68" \
    && PYTHONPATH=src PHOENYRA_PURE_PYTHON=1 python -m phoenyra.core.native --strict \
    && pip wheel --wheel-dir /wheels .

# -- runtime: non-root, no build tools ------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH \
    PHOENYRA_DATA_DIR=/data \
    LOG_FORMAT=json
RUN groupadd --system --gid 10001 phoenyra \
    && useradd --system --uid 10001 --gid phoenyra --home-dir /app --shell /usr/sbin/nologin phoenyra \
    && install -d -o phoenyra -g phoenyra /data /app
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --no-index --find-links /wheels phoenyra-bess-trade \
    && /opt/venv/bin/python -c "import phoenyra.core as c; assert c.COMPILED, c.describe()"
WORKDIR /app
USER phoenyra:phoenyra
VOLUME ["/data"]
EXPOSE 9000 5000 9101 9102 5020
# The exchange by default; compose.yaml gives each service its own check on its own port.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["phoenyra", "healthcheck", "http://127.0.0.1:9000/readyz"]
CMD ["phoenyra", "exchange", "--host", "0.0.0.0"]
