# syntax=docker/dockerfile:1
# Multi-stage build of the one nodeshare binary (all subcommands, including
# the IC simulator). Used by docker-compose.yml.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/nodeshare ./cmd/nodeshare

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/nodeshare /usr/local/bin/nodeshare
USER nonroot
ENTRYPOINT ["/usr/local/bin/nodeshare"]
