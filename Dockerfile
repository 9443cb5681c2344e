# Plumbline's controller image: a static binary on a distroless base, running as non-root.
# Build: docker build -t ghcr.io/plumbline/plumbline:$(git describe --tags) .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
    -o /out/plumbline ./cmd/plumbline

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/plumbline /usr/local/bin/plumbline
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/plumbline"]
CMD ["run"]
