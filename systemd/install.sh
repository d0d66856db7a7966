#!/bin/sh
# Install calsync as a systemd service, the supported way on Debian 12 and Ubuntu
# (whose system Python refuses `pip install`: PEP 668, externally-managed-environment):
#
#   * a virtualenv of its own in $PREFIX (/opt/calsync) holding calsync and its dependencies;
#   * $BINDIR/calsync (/usr/local/bin/calsync), a link to the venv's command, which is
#     what the unit's ExecStart runs and what an operator types;
#   * the units in $UNITDIR (/etc/systemd/system), pointing at those paths: calsync.service
#     and calsync@.service (one replica per port, for PostgreSQL stores);
#   * $CONFDIR (/etc/calsync) with calsync.toml (the example, storing SQLite under the
#     unit's StateDirectory /var/lib/calsync) unless one exists, and credentials/ (0700).
#
# Run it as root from a checkout:  sudo systemd/install.sh   (or: sudo make install)
# Needs python3 (>= 3.11) with venv: apt-get install python3-venv.
# Running it again upgrades calsync in place and keeps the config.
# Every path can be overridden (the test suite installs into a temporary directory);
# SYSTEMCTL=: skips `systemctl daemon-reload`.
set -eu

SRC=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
PREFIX=${PREFIX:-/opt/calsync}
BINDIR=${BINDIR:-/usr/local/bin}
UNITDIR=${UNITDIR:-/etc/systemd/system}
CONFDIR=${CONFDIR:-/etc/calsync}
STATEDIR=${STATEDIR:-/var/lib/calsync}
SYSTEMCTL=${SYSTEMCTL:-systemctl}

"$PYTHON" -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' || {
    echo "install.sh: $PYTHON must be Python >= 3.11 with the venv module" \
        "(Debian/Ubuntu: apt-get install python3-venv)" >&2
    exit 1
}

# The venv, then calsync into it (not editable: the checkout may be removed afterwards).
if [ ! -x "$PREFIX/bin/python" ]; then
    "$PYTHON" -m venv "$PREFIX"
fi
# Built from a copy: setuptools writes build/ next to pyproject.toml, and the checkout
# may belong to another user (or be read-only to root over NFS).
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
cp -R "$SRC/pyproject.toml" "$SRC/README.md" "$SRC/LICENSE" "$SRC/src" "$STAGE/"
rm -rf "$STAGE/src/calsync.egg-info"
"$PREFIX/bin/python" -m pip install --quiet --upgrade pip
"$PREFIX/bin/python" -m pip install --quiet --upgrade "$STAGE"

install -d -m 0755 "$BINDIR"
ln -sfn "$PREFIX/bin/calsync" "$BINDIR/calsync"

# The units name the default paths; rewrite them only when they were overridden.
# calsync.service is the one daemon; calsync@.service the replica template (PORT instances).
install -d -m 0755 "$UNITDIR"
for unit in calsync.service calsync@.service; do
    sed -e "s#/usr/local/bin/calsync#$BINDIR/calsync#g" \
        -e "s#/etc/calsync#$CONFDIR#g" \
        "$SRC/systemd/$unit" > "$UNITDIR/$unit.tmp"
    chmod 0644 "$UNITDIR/$unit.tmp"
    mv "$UNITDIR/$unit.tmp" "$UNITDIR/$unit"
done

install -d -m 0755 "$CONFDIR"
install -d -m 0700 "$CONFDIR/credentials"
if [ ! -e "$CONFDIR/calsync.toml" ]; then
    sed -e "s#^url = \"sqlite:///var/calsync.db\"#url = \"sqlite:///$STATEDIR/calsync.db\"#" \
        "$SRC/config.example.toml" > "$CONFDIR/calsync.toml"
    chmod 0644 "$CONFDIR/calsync.toml"
    echo "wrote $CONFDIR/calsync.toml (the example; edit it)"
fi

"$SYSTEMCTL" daemon-reload 2>/dev/null || echo "note: could not run '$SYSTEMCTL daemon-reload'" >&2
echo "installed calsync $("$BINDIR/calsync" --version | cut -d' ' -f2) in $PREFIX;" \
    "command $BINDIR/calsync; unit $UNITDIR/calsync.service"
echo "next: edit $CONFDIR/calsync.toml, then: systemctl enable --now calsync"
