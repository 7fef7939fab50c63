# Asterisk 22 from Debian testing with the project's asterisk_conf/, built by the
# same steps as the sandbox (scripts/asterisk-build.sh, shared, so they cannot drift).
# Build from the repository root:  docker compose -f docker/compose.yaml build
FROM debian:testing-slim
COPY scripts/asterisk-build.sh /tmp/asterisk-build.sh
COPY asterisk_conf /tmp/dialer/asterisk_conf
RUN . /tmp/asterisk-build.sh \
    && apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $ASTERISK_DEB_PACKAGES \
    && install_asterisk_conf /tmp/dialer /etc/asterisk /etc/asterisk \
    && rm -rf /var/lib/apt/lists/* /tmp/dialer
# manager.conf #includes /etc/asterisk/dialer-ami-secret.conf: mounted from the
# secrets volume (a 0600 file with "secret = ..."), never baked into the image
CMD ["asterisk", "-f", "-n", "-q", "-U", "asterisk", "-G", "asterisk"]
