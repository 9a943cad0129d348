#!/usr/bin/env bash
# Builds the RPM of vmail, for Red Hat-family systems, with rpmbuild (from
# Debian's `rpm` package: `bash packaging/install-tools.sh rpm`):
#
#   bash packaging/build-rpm.sh [--no-build] [--out DIR]
#
# 1. `cargo build --release --locked` as build-deb.sh does (skipped with
#    --no-build: TARGET/release must hold the binaries; TARGET is cargo's
#    target folder, CARGO_TARGET_DIR when set).
# 2. Lays out the same tree as the .deb (packaging/common.sh), with Red
#    Hat's paths where they differ: /usr/lib/systemd/system,
#    /usr/share/zsh/site-functions, README.RPM for README.Debian.
# 3. Writes the spec from packaging/rpm/vmail.spec.in (the scriptlets from
#    packaging/rpm/*.sh, the file list with owners and modes), runs
#    `rpmbuild -bb`, and prints the .rpm's path
#    (DIR/vmail-VERSION-1.ARCH.rpm; DIR defaults to TARGET/rpm).
#
# Files get the mtime of the last commit (SOURCE_DATE_EPOCH when set).
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
        -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "build-rpm: unknown argument: $1" >&2; exit 64 ;;
    esac
    shift
done

die() { echo "build-rpm: $*" >&2; exit 1; }
for tool in rpmbuild gzip; do
    command -v "$tool" >/dev/null ||
        die "$tool is needed: bash packaging/install-tools.sh rpm (Debian's rpm package)"
done

VERSION=$(workspace_version)
[ -n "$VERSION" ] || die "no version in [workspace.package] of $ROOT/Cargo.toml"
ARCH=$(rpm --eval '%{_arch}')
TARGET=$(target_dir)
BIN=$TARGET/release
OUT=${OUT:-$TARGET/rpm}

if [ "$BUILD" = 1 ]; then
    echo "build-rpm: cargo build --release (vmaild, vfx, vfxadmin, vmail-sendmail, vmail-postdrop, vmail-docgen) into $TARGET" >&2
    cargo_build_release
fi
check_binaries "$BIN"
source_date_epoch

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
STAGE=$(mktemp -d "$OUT/.stage.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
TREE=$STAGE/vmail
mkdir -m 0755 "$TREE"
stage_tree rpm "$BIN" "$TREE" "$STAGE"
find "$TREE" -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} +

# The %files list: every file of the tree, and the folders that are
# vmail's own (not /usr/bin or /etc), with the owners and modes of the
# installed system (those of the .deb after its postinst).
files_list() {
    local path
    echo '%dir %attr(0750,root,vmail) /etc/vmail'
    echo '%config(noreplace) %attr(0640,root,vmail) /etc/vmail/vsisrv.ini'
    echo '%dir %attr(0755,root,root) /etc/vmail/templates'
    echo '%dir %attr(0755,root,root) /usr/lib/vmail'
    echo '%attr(2755,root,vmail) /usr/sbin/vmail-postdrop'
    echo '%dir %attr(0750,vmail,vmail) /var/spool/vmail'
    echo '%dir %attr(1730,vmail,vmail) /var/spool/vmail/maildrop'
    echo '%dir %attr(0755,root,root) /usr/share/doc/vmail'
    echo '%dir %attr(0755,root,root) /usr/share/doc/vmail/examples'
    (cd "$TREE" && find . -type f -printf '/%P\n' | LC_ALL=C sort) | while read -r path; do
        case $path in
            /etc/vmail/vsisrv.ini | /usr/sbin/vmail-postdrop) ;;
            /usr/share/doc/vmail/*) echo "%doc %attr(0644,root,root) $path" ;;
            /etc/vmail/templates/*) echo "%config(noreplace) %attr(0644,root,root) $path" ;;
            /usr/share/man/*) echo "%attr(0644,root,root) $path" ;;
            *) echo "%attr($(stat -c '%04a' "$TREE$path"),root,root) $path" ;;
        esac
    done
}

# The spec: spec.in with its @...@ replaced (scriptlets and file list from
# files, so that no character in them is taken for sed syntax).
SPEC=$STAGE/vmail.spec
files_list >"$STAGE/files"
awk -v version="$VERSION" -v arch="$ARCH" -v dir="$HERE/rpm" -v files="$STAGE/files" '
    function cat(path,   line) { while ((getline line < path) > 0) print line; close(path) }
    /^@PRE@$/ { cat(dir "/pre.sh"); next }
    /^@POST@$/ { cat(dir "/post.sh"); next }
    /^@PREUN@$/ { cat(dir "/preun.sh"); next }
    /^@POSTUN@$/ { cat(dir "/postun.sh"); next }
    /^@FILES@$/ { cat(files); next }
    { gsub(/@VERSION@/, version); gsub(/@ARCH@/, arch); print }
' "$HERE/rpm/vmail.spec.in" >"$SPEC"

# rpmbuild's own folders in the stage; the build time of the last commit
# (reproducible headers); no signature, no source package.
rpmbuild -bb --quiet \
    --define "_topdir $STAGE/rpmbuild" \
    --define "_rpmdir $OUT" \
    --define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
    --define "vmail_tree $TREE" \
    --define "use_source_date_epoch_as_buildtime 1" \
    --define "clamp_mtime_to_source_date_epoch 1" \
    --define "_buildhost reproducible" \
    "$SPEC" >"$STAGE/rpmbuild.log" 2>&1 || {
    tail -n 30 "$STAGE/rpmbuild.log" >&2
    die "rpmbuild failed"
}
RPM=$OUT/vmail-$VERSION-1.$ARCH.rpm
[ -f "$RPM" ] || die "rpmbuild made no $RPM: $(ls "$OUT")"
echo "$RPM"
