# kcm container image: one static-enough binary on a small glibc base.
#
#   docker build -t kcm:0.2.0 .
#   docker run --rm kcm:0.2.0 --help
#
# Stage 1 compiles kcm with `deno task compile` (deno.json), which writes
# ./kcm; `deno compile` downloads Deno's runtime (denort), so the build needs
# network access. Stage 2 carries only that binary, at /usr/local/bin/kcm:
# the entrypoint, and the file `kcm install` copies from in an init
# container (`kcm install --install-dir=/host/opt/bin`).
# See docs/build.md.

FROM denoland/deno:2.9.6 AS build
WORKDIR /src
COPY deno.json deno.lock ./
COPY main.ts ./
COPY core/ core/
COPY commands/ commands/
RUN deno task compile && ./kcm --version

FROM debian:12.11-slim
COPY --from=build /src/kcm /usr/local/bin/kcm
ENTRYPOINT ["/usr/local/bin/kcm"]
CMD ["--help"]
