#!/usr/bin/env bash
# Builds the Debian package of vmail with plain dpkg-deb: no cargo-deb, no
# debhelper, nothing to install on a Debian machine.
#
#   bash packaging/build-deb.sh [--no-build] [--out DIR]
#
# 1. `cargo build --release --locked` of vmaild, vfx, vfxadmin, vmail-sendmail,
#    vmail-postdrop and vmail-docgen (skipped with --no-build: TARGET/release
#    must hold them). TARGET is cargo's target folder: CARGO_TARGET_DIR when
#    set, else ./target (as `cargo metadata` resolves it).
# 2. Lays out the tree (packaging/common.sh, shared with build-rpm.sh):
#    binaries (stripped), config/vsisrv.ini as the conffile
#    /etc/vmail/vsisrv.ini, systemd/vmaild.service, README.md, the IP allow
#    list example, man pages and bash/zsh/fish completions (from
#    vmail-docgen: vfx, vfxadmin and vmail-sendmail in section 1, vmaild in
#    8), and DEBIAN/ from packaging/debian/.
# 3. `dpkg-deb --root-owner-group --build`, and prints the .deb's path
#    (DIR/vmail_VERSION_ARCH.deb; DIR defaults to TARGET/debian).
#
# Files get the mtime of the last commit (SOURCE_DATE_EPOCH when set), so
# two builds of one commit give the same package contents.
set -euo pipefail
umask 022

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=packaging/common.sh
. "$ROOT/packaging/common.sh"
OUT=
BUILD=1

while [ $# -gt 0 ]; do
    case $1 in
        --no-build) BUILD=0 ;;
        --out) OUT=${2:?--out needs a directory}; shift ;;
        --out=*) OUT=${1#--out=} ;;
        -h | --help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "build-deb: unknown argument: $1" >&2; exit 64 ;;
    esac
    shift
done

die() { echo "build-deb: $*" >&2; exit 1; }
for tool in dpkg-deb dpkg gzip md5sum; do
    command -v "$tool" >/dev/null || die "$tool is needed (this script builds on Debian)"
done

VERSION=$(workspace_version)
[ -n "$VERSION" ] || die "no version in [workspace.package] of $ROOT/Cargo.toml"
ARCH=$(dpkg --print-architecture)
TARGET=$(target_dir)
BIN=$TARGET/release
OUT=${OUT:-$TARGET/debian}

if [ "$BUILD" = 1 ]; then
    echo "build-deb: cargo build --release (vmaild, vfx, vfxadmin, vmail-sendmail, vmail-postdrop, vmail-docgen) into $TARGET" >&2
    cargo_build_release
fi
check_binaries "$BIN"
source_date_epoch

mkdir -p "$OUT"
STAGE=$(mktemp -d "$OUT/.stage.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
TREE=$STAGE/vmail
mkdir -m 0755 "$TREE"
stage_tree deb "$BIN" "$TREE" "$STAGE"

# DEBIAN/: the maintainer scripts, conffiles, md5sums and control.
mkdir -p "$TREE/DEBIAN"
for script in postinst prerm postrm; do
    install -m 0755 "$HERE/debian/$script" "$TREE/DEBIAN/$script"
done
install -m 0644 "$HERE/debian/conffiles" "$TREE/DEBIAN/conffiles"
(cd "$TREE" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' |
    LC_ALL=C sort -z | xargs -0 md5sum) >"$TREE/DEBIAN/md5sums"
chmod 0644 "$TREE/DEBIAN/md5sums"

# Depends: the newest glibc symbol version the binaries use (what
# dpkg-shlibdeps would find), libgcc_s when linked, and adduser (postinst).
depends() {
    local glibc needs_gcc=0 bin
    glibc=$(for bin in "$TREE"/usr/sbin/* "$TREE"/usr/bin/*; do
        objdump -T "$bin" 2>/dev/null | grep -o 'GLIBC_[0-9][0-9.]*' || true
    done | sed 's/GLIBC_//' | sort -Vu | tail -n 1)
    for bin in "$TREE"/usr/sbin/* "$TREE"/usr/bin/*; do
        if objdump -p "$bin" 2>/dev/null | grep -q 'NEEDED.*libgcc_s'; then needs_gcc=1; fi
    done
    local list="libc6 (>= ${glibc:-2.34})"
    if [ "$needs_gcc" = 1 ]; then list="$list, libgcc-s1"; fi
    echo "$list, adduser"
}
command -v objdump >/dev/null || die "objdump (binutils) is needed to compute Depends"
INSTALLED_SIZE=$(du -sk --exclude=DEBIAN "$TREE" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" \
    -e "s/@INSTALLED_SIZE@/$INSTALLED_SIZE/" -e "s/@DEPENDS@/$(depends)/" \
    "$HERE/debian/control.in" >"$TREE/DEBIAN/control"

find "$TREE" -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} +
DEB=$OUT/vmail_${VERSION}_${ARCH}.deb
dpkg-deb --root-owner-group -Zxz --build "$TREE" "$DEB" >/dev/null
echo "$DEB"
