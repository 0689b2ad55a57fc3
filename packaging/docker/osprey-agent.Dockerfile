# The agent's image, built by build-images.sh from the context it stages: rootfs/ holds the
# binary, the libraries it links, /etc/passwd and /etc/group naming `osprey`, and agent.toml,
# which reads the host's /proc and /sys mounted at /host/proc and /host/sys.
FROM scratch
COPY rootfs/ /
# Numeric, so that "runs as non-root" can be checked without reading the image's passwd.
USER 10001:10001
# Logs go to docker logs, not a terminal: plain text without colour codes.
ENV NO_COLOR=1
EXPOSE 9717
ENTRYPOINT ["/usr/bin/osprey-agent"]
CMD ["--config", "/etc/osprey/agent.toml"]
