# The gatebench image: the binary, with the scenarios, fixtures and price tables
# beside it so that `gatebench run scenarios/...` and suites work as in the
# repository. `gatebench k8s` points its pods at this image.
#
#   docker build -t gatebench:0.1.0 .
#   docker run --rm gatebench:0.1.0 run scenarios/light.toml --duration 10s

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p gatebench \
    && cp target/release/gatebench /usr/local/bin/gatebench

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local/bin/gatebench /usr/local/bin/gatebench
WORKDIR /gatebench-home
COPY scenarios scenarios
COPY fixtures fixtures
COPY pricing pricing
# results and reports go under the working folder (or --out); nothing needs root
RUN useradd --uid 10001 --home-dir /gatebench-home gatebench \
    && chown -R gatebench /gatebench-home
USER 10001
ENTRYPOINT ["gatebench"]
CMD ["--help"]
