# shipwatch container image: a static-ish Rust build, run as a non-root user on a distroless
# base (glibc, CA certificates, nothing else). State lives in the /data volume.
#
#   buildah bud --format docker -t shipwatch .   (or: docker build -t shipwatch .; the OCI
#   format has no HEALTHCHECK)
#   podman run -p 9797:9797 -v shipwatch-data:/data \
#     -v ./shipwatch.yaml:/etc/shipwatch/shipwatch.yaml:ro shipwatch
#
# Checked by hadolint in .ci/run (tests/packaging.rs). The base images are arguments so a
# mirror or a pinned digest can be used: --build-arg RUNTIME_IMAGE=registry.internal/distroless-cc@sha256:...
ARG BUILD_IMAGE=docker.io/library/rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM ${BUILD_IMAGE} AS build
WORKDIR /src
# Dependencies first, so a source change does not rebuild them.
COPY Cargo.toml Cargo.lock build.rs ./
COPY probes probes
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src
COPY src src
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked \
    && install -D -m 0755 target/release/shipwatch /out/usr/local/bin/shipwatch \
    && install -d -m 0750 /out/data
COPY packaging/shipwatch.yaml config/release-checklist.md /out/etc/shipwatch/

FROM ${RUNTIME_IMAGE}
LABEL org.opencontainers.image.title="shipwatch" \
      org.opencontainers.image.description="Verifies production releases from your Markdown checklist" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/usr/local/bin/shipwatch /usr/local/bin/shipwatch
COPY --from=build /out/etc/shipwatch /etc/shipwatch
COPY --from=build --chown=65532:65532 /out/data /data
ENV SHIPWATCH_DATA=/data
USER 65532:65532
WORKDIR /data
VOLUME ["/data"]
EXPOSE 9797
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/shipwatch", "healthcheck", "--server", "http://127.0.0.1:9797"]
ENTRYPOINT ["/usr/local/bin/shipwatch"]
CMD ["run", "--config", "/etc/shipwatch/shipwatch.yaml", "--listen", "0.0.0.0:9797"]
