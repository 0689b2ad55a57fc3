# The collector's image, built by build-images.sh from the context it stages: rootfs/ holds
# the binary, the libraries it links, /etc/passwd and /etc/group naming `osprey`, the default
# collector.yml and alert rules; data/ is the empty data directory, owned by `osprey` so that a
# new volume mounted there is too.
FROM scratch
COPY rootfs/ /
COPY --chown=10001:10001 data/ /var/lib/osprey/
# Numeric, so that "runs as non-root" can be checked without reading the image's passwd.
USER 10001:10001
# Logs go to docker logs, not a terminal: plain text without colour codes.
ENV NO_COLOR=1
EXPOSE 9718
ENTRYPOINT ["/usr/bin/osprey-collector"]
CMD ["--config", "/etc/osprey/collector.yml", "--data-dir", "/var/lib/osprey"]
