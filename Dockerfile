# syntax=docker/dockerfile:1
# Multi-stage build of the nodeshare binary and, beside it, the IC simulator
# (its own binary: nodeshare does not link it). Used by docker-compose.yml.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/nodeshare ./cmd/nodeshare && \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/icsim ./ops/icsim/cmd/icsim

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/nodeshare /out/icsim /usr/local/bin/
USER nonroot
ENTRYPOINT ["/usr/local/bin/nodeshare"]
