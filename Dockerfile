# reverb in a container: the static Linux binary, CA certificates and a
# non-root user on an empty base. Nothing is pulled and nothing is compiled
# here: `make docker` builds the binary outside and writes this file with
# everything it copies into dist/docker/, then builds that folder
# (docker build -t reverb-go/reverb dist/docker works as well).
#
# The Laravel project is mounted at /app, the working directory, so `start`
# reads /app/.env and /app/config/ like ./reverb start in the project root:
#
#   docker run --rm -p 8080:8080 -v "$PWD:/app" --user "$(id -u):$(id -g)" --stop-timeout 30 reverb-go/reverb
#
# (SIGTERM drains the connections over up to --drain-window, 10 s, then
# exits 0: the stop timeout must be longer than that; Docker's default is
# 10 s.)
#
# Other commands run the same way: docker run ... reverb-go/reverb restart
FROM scratch

# From the build machine's /etc/ssl/certs/ca-certificates.crt: HTTPS to
# webhook endpoints, Redis over TLS.
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
# One unprivileged user and group, reverb (65532); --user overrides it
# when the mounted project belongs to another uid that must stay writable
# (storage/ holds the restart flag and the control socket).
COPY passwd group /etc/
COPY reverb /reverb

USER 65532:65532
WORKDIR /app
EXPOSE 8080
ENTRYPOINT ["/reverb"]
CMD ["start"]
