# syntax=docker/dockerfile:1
# Build: a cgo build (mattn/go-sqlite3 compiles SQLite in), static enough for distroless/base.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath -ldflags="-s -w" -o /out/citycard ./server \
 && mkdir -p /out/data

# Run: glibc, CA certificates and tzdata, no shell, non-root (uid 65532).
FROM gcr.io/distroless/base-debian12:nonroot
COPY --from=build /out/citycard /citycard
COPY --from=build --chown=65532:65532 /out/data /data
ENV CITYCARD_DB=/data/citycard.db \
    CITYCARD_ADDR=:8080
VOLUME ["/data"]
EXPOSE 8080
USER 65532:65532
# Readiness, not only liveness: a container whose database cannot take writes (a full volume)
# is reported unhealthy although the process still answers /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["/citycard", "healthcheck", "--ready"]
ENTRYPOINT ["/citycard"]
CMD ["serve"]
