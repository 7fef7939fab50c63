# asterisk-build.sh -- the ONE definition of how the project's Asterisk is built.
# Sourced by scripts/asterisk-sandbox (debootstrap rootfs, for tests and the demo)
# and by docker/asterisk.Dockerfile (the production image), so the two cannot drift:
# the same Debian testing packages, the same stock files, the same asterisk_conf/.
# shellcheck shell=bash

# Debian testing's Asterisk 22 LTS. asterisk-core-sounds-en-gsm: the package itself
# ships no prompts (only a Recommends, which minimal installs skip); AGI "SAY DIGITS"
# and "beep" need them.
ASTERISK_DEB_PACKAGES="asterisk asterisk-core-sounds-en-gsm"
ASTERISK_DEB_SUITE=testing
# Debian's stock files for what the project does not configure (a PBX has them
# already), so Asterisk boots without "Unable to load config" noise.
ASTERISK_STOCK_FILES="acl ccss cdr cel features indications pjproject udptl"

# install_asterisk_conf REPO CONF_DIR STOCK_DIR [OVERLAY...]
#   Fresh configuration in CONF_DIR: Debian's stock files from STOCK_DIR, then the
#   district's asterisk_conf/*.conf, then each overlay folder's *.conf (the sandbox
#   adds asterisk_conf/sandbox/, the test-only phones).
install_asterisk_conf() {
    local repo=$1 conf=$2 stock=$3 file overlay
    shift 3
    mkdir -p "$conf"
    for file in $ASTERISK_STOCK_FILES; do
        if [ -f "$stock/$file.conf" ] && [ "$stock" != "$conf" ]; then
            cp "$stock/$file.conf" "$conf/"
        fi
    done
    cp "$repo"/asterisk_conf/*.conf "$conf"/
    for overlay in "$@"; do
        cp "$overlay"/*.conf "$conf"/
    done
}
