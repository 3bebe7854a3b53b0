# Multi-stage build: compile in the Rust image, run from a small Debian base.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
COPY benches ./benches
COPY examples ./examples
COPY picket.example.toml ./
RUN cargo build --release --locked --bin picket

FROM debian:bookworm-slim
RUN useradd --system --home /var/lib/picket --create-home picket
COPY --from=build /src/target/release/picket /usr/local/bin/picket
COPY picket.example.toml /etc/picket/picket.example.toml
USER picket
WORKDIR /var/lib/picket
# syslog UDP+TCP, web (dashboard, /metrics, /healthz)
EXPOSE 1514/udp 1514/tcp 6514/tcp 8080/tcp
VOLUME ["/var/lib/picket"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /livez HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q ok <&3"]
ENTRYPOINT ["/usr/local/bin/picket"]
CMD ["serve", "--data-dir", "/var/lib/picket/data"]
