# shellcheck shell=bash
# What build-deb.sh and build-rpm.sh share, sourced by both: the version,
# cargo's target folder, the release build, and the layout of the installed
# files (one layout, so that the two packages hold the same files).
#
# Needs ROOT (the repository) set by the caller, and `die`.

HERE=$ROOT/packaging

# The version of [workspace.package] in the root Cargo.toml.
workspace_version() {
    awk -F'"' '/^\[/ { ws = ($0 == "[workspace.package]") } ws && /^version *=/ { print $2; exit }' "$ROOT/Cargo.toml"
}

# cargo's target folder as cargo itself resolves it: CARGO_TARGET_DIR
# (absolute or relative to the current folder), build.target-dir of a
# .cargo/config.toml, else ROOT/target.
target_dir() {
    local meta dir
    if meta=$("${CARGO:-cargo}" metadata --manifest-path "$ROOT/Cargo.toml" --format-version 1 --no-deps 2>/dev/null); then
        dir=$(printf '%s' "$meta" | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
        if [ -n "$dir" ]; then
            echo "$dir"
            return
        fi
    fi
    # Without a working cargo (--no-build on a machine without one).
    dir=${CARGO_TARGET_DIR:-$ROOT/target}
    case $dir in
        /*) echo "$dir" ;;
        *) echo "$PWD/$dir" ;;
    esac
}

# The release build of every binary the packages hold, in target_dir. Run
# from the caller's folder (--manifest-path), as target_dir asks cargo, so
# that a relative CARGO_TARGET_DIR means the same folder to both.
cargo_build_release() {
    "${CARGO:-cargo}" build --manifest-path "$ROOT/Cargo.toml" --release --locked \
        -p vmail-daemon -p vmail-cli --bins
}

check_binaries() {
    local bin
    for bin in vmaild vfx vfxadmin vmail-sendmail vmail-postdrop; do
        [ -x "$1/$bin" ] || die "$1/$bin is missing: build without --no-build"
    done
}

# stage_tree FLAVOR BIN TREE SCRATCH: lays out under TREE what the package
# installs, from the binaries in BIN (SCRATCH: a folder for vmail-docgen's
# output). FLAVOR is deb or rpm: the paths that differ between Debian and
# Red Hat are the unit's folder, zsh's completions and the distribution's
# README. Modes are the packaged ones; owners are set by the package
# (dpkg-deb --root-owner-group, the spec's %attr).
stage_tree() {
    local flavor=$1 bin=$2 tree=$3 scratch=$4 unit_dir zsh_dir readme entry
    case $flavor in
        deb) unit_dir=/lib/systemd/system; zsh_dir=/usr/share/zsh/vendor-completions
             readme=$HERE/debian/README.Debian ;;
        rpm) unit_dir=/usr/lib/systemd/system; zsh_dir=/usr/share/zsh/site-functions
             readme=$HERE/rpm/README.RPM ;;
        *) die "stage_tree: unknown flavor $flavor" ;;
    esac
    put() { install -D -m "$1" "$2" "$tree$3"; }

    # The binaries, stripped (Debian and Fedora policy; the symbols are not
    # needed to run). vmail-postdrop is 0755 here: its group vmail and
    # setgid bit come from the postinst (deb) or the %attr (rpm).
    for entry in sbin/vmaild bin/vfx bin/vfxadmin sbin/vmail-sendmail sbin/vmail-postdrop; do
        put 0755 "$bin/${entry#*/}" "/usr/$entry"
        if command -v strip >/dev/null; then
            strip --strip-unneeded --remove-section=.comment "$tree/usr/$entry"
        fi
    done

    put 0640 "$ROOT/config/vsisrv.ini" /etc/vmail/vsisrv.ini
    chmod 0750 "$tree/etc/vmail"
    # The notification templates of .job drops, beside the ini (conffiles:
    # packaging/debian/conffiles, the rpm's %config), and HylaFAX's
    # received-fax hook (docs/fax-servers.md).
    for entry in "$ROOT"/config/templates/*.j2; do
        put 0644 "$entry" "/etc/vmail/templates/${entry##*/}"
    done
    put 0755 "$HERE/hylafax/faxrcvd-vmail" /usr/lib/vmail/faxrcvd-vmail
    put 0644 "$ROOT/systemd/vmaild.service" "$unit_dir/vmaild.service"
    put 0644 "$ROOT/README.md" /usr/share/doc/vmail/README.md
    put 0644 "$readme" "/usr/share/doc/vmail/${readme##*/}"
    put 0644 "$HERE/debian/copyright" /usr/share/doc/vmail/copyright
    put 0644 "$ROOT/systemd/ip-allow-list.conf.example" /usr/share/doc/vmail/examples/ip-allow-list.conf

    # Man pages and completions from vmail-docgen (clap's definitions of
    # vfx, vfxadmin, vmail-sendmail and vmaild, whose page goes to section 8).
    local docs=$scratch/docgen page section file name
    if [ -x "$bin/vmail-docgen" ]; then
        "$bin/vmail-docgen" "$docs" >/dev/null
        for page in "$docs"/man/*.[1-8]; do
            [ -e "$page" ] || continue
            section=${page##*.}
            put 0644 "$page" "/usr/share/man/man$section/${page##*/}"
        done
        for file in "$docs"/completions/bash/*; do
            [ -e "$file" ] || continue
            name=${file##*/}
            put 0644 "$file" "/usr/share/bash-completion/completions/${name%.bash}"
        done
        for file in "$docs"/completions/zsh/_*; do
            [ -e "$file" ] || continue
            put 0644 "$file" "$zsh_dir/${file##*/}"
        done
        for file in "$docs"/completions/fish/*.fish; do
            [ -e "$file" ] || continue
            put 0644 "$file" "/usr/share/fish/vendor_completions.d/${file##*/}"
        done
    else
        echo "packaging: $bin/vmail-docgen not built: no man pages of vfx, vfxadmin, vmail-sendmail, no completions" >&2
    fi
    if [ -d "$tree/usr/share/man" ]; then
        find "$tree/usr/share/man" -type f -name '*.[1-8]' -exec gzip -9n {} +
    fi
}

# Files get the mtime of the last commit (SOURCE_DATE_EPOCH when set), so
# two builds of one commit give the same package contents.
source_date_epoch() {
    if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
        SOURCE_DATE_EPOCH=$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || date +%s)
    fi
    export SOURCE_DATE_EPOCH
}
