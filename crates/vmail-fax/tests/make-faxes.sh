#!/bin/bash
# Writes real fax TIFFs, made by Debian's tools, into DIR, with the pages
# they must show: DIR/manifest has one line per TIFF,
#   NAME.tif PAGES SOURCE
# where SOURCE-N.pbm (N from 1) is the bitmap page N must show, pixel for
# pixel, whatever the TIFF's compression, strips, fill order and photometric
# interpretation. Installs libtiff-tools, poppler-utils and imagemagick when
# they are missing (the test that calls this also runs pdfinfo/pdftoppm).
#
# usage: make-faxes.sh DIR
set -euo pipefail
DIR=${1:?usage: make-faxes.sh DIR}
mkdir -p "$DIR"
cd "$DIR"

missing=()
for p in libtiff-tools poppler-utils imagemagick; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "make-faxes.sh: installing ${missing[*]}" >&2
  opts=(-y -q --no-install-recommends)
  export DEBIAN_FRONTEND=noninteractive
  { apt-get install "${opts[@]}" "${missing[@]}" || { apt-get update -q && apt-get install "${opts[@]}" "${missing[@]}"; }; } >apt.log 2>&1 \
    || { tail -n 20 apt.log >&2; exit 1; }
fi
# ImageMagick 6 by its Debian name: `convert` may be something else on PATH.
IM=$(command -v convert-im6.q16 || command -v magick || command -v convert)

# Source pages: shapes that differ per page (so that order shows), runs of
# every length and a block of noise (hard on 2-D coding), edge pixels.
# fine: 1728 x 2200 at 204 x 196 dpi; normal: 1728 x 1100 at 204 x 98.
page() { # page RES N
  local h=2200; [ "$1" = normal ] && h=1100
  "$IM" -size 1728x$h xc:white -fill black \
    -draw "rectangle 0,0 1727,0" -draw "rectangle 0,0 0,$((h - 1))" -draw "point 1727,$((h - 1))" \
    -draw "circle $((200 + 120 * $2)),$((h / 3)) $((200 + 120 * $2)),$((h / 3 + 40 + 10 * $2))" \
    -draw "rectangle 100,$((h - 300)) $((100 + 150 * $2)),$((h - 250))" \
    -draw "line 0,$((h / 2)) 1727,$((h / 2 + 37))" \
    \( -size 300x150 xc: -seed $((7 * $2)) +noise Random -colorspace gray -threshold 50% \) \
    -geometry +$((1000 + 30 * $2))+$((h / 2 + 80)) -composite \
    -type bilevel "src-$1-$2.pbm"
}
for res in fine normal; do
  for n in $(seq 1 10); do page $res "$n"; done
done

# One uncompressed TIFF of the ten source pages per resolution and
# photometric interpretation.
base() { # base RES white|black -> base-RES-PHOTO.tif
  local dpi=204x196; [ "$1" = normal ] && dpi=204x98
  local polarity=min-is-white; [ "$2" = black ] && polarity=min-is-black
  "$IM" $(for n in $(seq 1 10); do echo "src-$1-$n.pbm"; done) -define quantum:polarity=$polarity \
    -density $dpi -units PixelsPerInch -compress none -type bilevel "base-$1-$2.tif"
}
for res in fine normal; do base $res white; base $res black; done

: >manifest
# make NAME RES PAGES PHOTO TIFFCP-OPTIONS...: tiffcp the base pages into NAME.tif
make() {
  local name=$1 res=$2 pages=$3 photo=$4; shift 4
  tiffcp "$@" "base-$res-$photo.tif,$(seq -s, 0 $((pages - 1)))" "$name.tif"
  echo "$name.tif $pages src-$res" >>manifest
}
ONE="-r 100000" # one strip per page
make g3-1d-fine-1p            fine   1  white -c g3 $ONE
make g3-1d-normal-10p         normal 10 white -c g3:1d $ONE
make g3-2d-fine-10p           fine   10 white -c g3:2d $ONE
make g3-2d-fill-normal-1p     normal 1  white -c g3:2d:fill $ONE
make g3-1d-fill-fine-1p       fine   1  white -c g3:1d:fill $ONE
make g4-fine-10p              fine   10 white -c g4 $ONE
make g4-normal-1p             normal 1  white -c g4 $ONE
make g4-blackiszero-fine-1p   fine   1  black -c g4 $ONE
make g3-2d-blackiszero-normal-10p normal 10 black -c g3:2d $ONE
# Several strips per page, fill order 2, uncompressed and PackBits: re-encoded.
make g4-strips-fine-10p       fine   10 white -c g4 -r 64
make g3-2d-strips-normal-1p   normal 1  white -c g3:2d:fill -r 100
make g3-1d-lsb2msb-fine-1p    fine   1  white -c g3 -f lsb2msb $ONE
make g4-lsb2msb-normal-10p    normal 10 white -c g4 -f lsb2msb $ONE
make g3-2d-lsb2msb-strips-blackiszero-fine-1p fine 1 black -c g3:2d -f lsb2msb -r 37
make none-strips-normal-1p    normal 1  white -c none -r 50
make none-blackiszero-fine-1p fine   1  black -c none $ONE
make packbits-strips-fine-10p fine   10 white -c packbits -r 128

# fax2tiff, from raw G3 data as a fax modem hands it over (LSB first):
# the strip of a one-strip G3 1-D TIFF written in that bit order.
raw_strip() { # raw_strip TIFF OUT: the bytes of the first strip
  local offset count
  offset=$(tiffdump "$1" | awk '/StripOffsets/ {sub(/.*</, ""); sub(/>.*/, ""); print; exit}')
  count=$(tiffdump "$1" | awk '/StripByteCounts/ {sub(/.*</, ""); sub(/>.*/, ""); print; exit}')
  tail -c +$((offset + 1)) "$1" | head -c "$count" >"$2"
}
tiffcp -c g3:1d -f lsb2msb $ONE base-normal-white.tif,0 raw-normal.tif
raw_strip raw-normal.tif normal.g3
fax2tiff -R 98 -o fax2tiff-normal-1p.tif normal.g3 2>/dev/null
echo "fax2tiff-normal-1p.tif 1 src-normal" >>manifest
tiffcp -c g3:1d $ONE base-fine-white.tif,1 raw-fine.tif
raw_strip raw-fine.tif fine.g3
fax2tiff -M -m -8 -o fax2tiff-g4-fine-1p.tif fine.g3 2>/dev/null
# fax2tiff's page is page 2 of the fine pages.
cp src-fine-2.pbm src-fax2tiff-1.pbm
echo "fax2tiff-g4-fine-1p.tif 1 src-fax2tiff" >>manifest
echo "make-faxes.sh: $(wc -l <manifest) TIFFs in $DIR" >&2
