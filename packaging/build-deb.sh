#!/usr/bin/env bash
# Builds the Debian package of vmail with plain dpkg-deb: no cargo-deb, no
# debhelper, nothing to install on a Debian machine.
#
#   bash packaging/build-deb.sh [--no-build] [--out DIR]
#
# 1. `cargo build --release --locked` of vmaild, vfx, vfxadmin, vmail-sendmail,
#    vmail-postdrop and vmail-docgen (skipped with --no-build: target/release must hold them).
# 2. Lays out the tree: binaries (stripped), config/vsisrv.ini as the conffile
#    /etc/vmail/vsisrv.ini, systemd/vmaild.service, README.md, man pages and
#    bash/zsh/fish completions (from vmail-docgen: vfx, vfxadmin and
#    vmail-sendmail in section 1, vmaild in 8), and DEBIAN/ from packaging/debian/.
# 3. `dpkg-deb --root-owner-group --build`, and prints the .deb's path
#    (DIR/vmail_VERSION_ARCH.deb; DIR defaults to target/debian).
#
# Files get the mtime of the last commit (SOURCE_DATE_EPOCH when set), so
# two builds of one commit give the same package contents.
set -euo pipefail
umask 022

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE=$ROOT/packaging
OUT=$ROOT/target/debian
BUILD=1

while [ $# -gt 0 ]; do
    case $1 in
        --no-build) BUILD=0 ;;
        --out) OUT=${2:?--out needs a directory}; shift ;;
        --out=*) OUT=${1#--out=} ;;
        -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "build-deb: unknown argument: $1" >&2; exit 64 ;;
    esac
    shift
done

die() { echo "build-deb: $*" >&2; exit 1; }
for tool in dpkg-deb dpkg gzip md5sum; do
    command -v "$tool" >/dev/null || die "$tool is needed (this script builds on Debian)"
done

# The version of [workspace.package] in the root Cargo.toml.
VERSION=$(awk -F'"' '/^\[/ { ws = ($0 == "[workspace.package]") } ws && /^version *=/ { print $2; exit }' "$ROOT/Cargo.toml")
[ -n "$VERSION" ] || die "no version in [workspace.package] of $ROOT/Cargo.toml"
ARCH=$(dpkg --print-architecture)
BIN=$ROOT/target/release

if [ "$BUILD" = 1 ]; then
    echo "build-deb: cargo build --release (vmaild, vfx, vfxadmin, vmail-sendmail, vmail-postdrop, vmail-docgen)" >&2
    (cd "$ROOT" && "${CARGO:-cargo}" build --release --locked \
        -p vmail-daemon -p vmail-cli --bins)
fi
for bin in vmaild vfx vfxadmin vmail-sendmail vmail-postdrop; do
    [ -x "$BIN/$bin" ] || die "$BIN/$bin is missing: build without --no-build"
done

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH

mkdir -p "$OUT"
STAGE=$(mktemp -d "$OUT/.stage.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
TREE=$STAGE/vmail
mkdir -m 0755 "$TREE"

# put MODE SRC DEST: copies SRC to DEST (a path inside the package).
put() {
    install -D -m "$1" "$2" "$TREE$3"
}

# The binaries, stripped (Debian policy; the symbols are not needed to run).
# vmail-postdrop is 0755 root:root here; the postinst makes it 2755
# root:vmail (the group exists only on the installed system).
for entry in sbin/vmaild bin/vfx bin/vfxadmin sbin/vmail-sendmail sbin/vmail-postdrop; do
    put 0755 "$BIN/${entry#*/}" "/usr/$entry"
    if command -v strip >/dev/null; then
        strip --strip-unneeded --remove-section=.comment "$TREE/usr/$entry"
    fi
done

put 0640 "$ROOT/config/vsisrv.ini" /etc/vmail/vsisrv.ini
chmod 0750 "$TREE/etc/vmail"
put 0644 "$ROOT/systemd/vmaild.service" /lib/systemd/system/vmaild.service
put 0644 "$ROOT/README.md" /usr/share/doc/vmail/README.md
put 0644 "$HERE/debian/README.Debian" /usr/share/doc/vmail/README.Debian
put 0644 "$HERE/debian/copyright" /usr/share/doc/vmail/copyright

# Man pages and completions from vmail-docgen (clap's definitions of vfx,
# vfxadmin, vmail-sendmail and vmaild, whose page goes to section 8).
MAN=$TREE/usr/share/man
if [ -x "$BIN/vmail-docgen" ]; then
    DOCS=$STAGE/docgen
    "$BIN/vmail-docgen" "$DOCS" >/dev/null
    for page in "$DOCS"/man/*.[1-8]; do
        [ -e "$page" ] || continue
        section=${page##*.}
        put 0644 "$page" "/usr/share/man/man$section/${page##*/}"
    done
    for file in "$DOCS"/completions/bash/*; do
        [ -e "$file" ] || continue
        name=${file##*/}
        put 0644 "$file" "/usr/share/bash-completion/completions/${name%.bash}"
    done
    for file in "$DOCS"/completions/zsh/_*; do
        [ -e "$file" ] || continue
        put 0644 "$file" "/usr/share/zsh/vendor-completions/${file##*/}"
    done
    for file in "$DOCS"/completions/fish/*.fish; do
        [ -e "$file" ] || continue
        put 0644 "$file" "/usr/share/fish/vendor_completions.d/${file##*/}"
    done
else
    echo "build-deb: $BIN/vmail-docgen not built: no man pages of vfx, vfxadmin, vmail-sendmail, no completions" >&2
fi
find "$MAN" -type f -name '*.[1-8]' -exec gzip -9n {} +

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
