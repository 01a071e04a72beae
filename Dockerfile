# parity as a container image: one static binary on `scratch` (docs/distribution.md).
# The build context is made by `dist/stage-image.sh` from a verified dist tree: per platform
# the release binary (`linux/amd64/parity`, `linux/arm64/parity`, glibc linked statically) and
# the CA bundle that HTTPS needs.
FROM scratch
ARG TARGETPLATFORM
ARG VERSION=unknown
ARG REVISION=unknown
LABEL org.opencontainers.image.title="parity" \
      org.opencontainers.image.description="A declarative, incremental build graph for CLI wrapper parity" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="MIT"
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY ${TARGETPLATFORM}/parity /usr/local/bin/parity
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
WORKDIR /work
ENTRYPOINT ["/usr/local/bin/parity"]
CMD ["--help"]
