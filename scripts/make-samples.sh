#!/usr/bin/env bash
# Regenerates the small sample inputs in assets/samples/ that the real-model tests (test/models/) and the demos
# feed to the OCR and audio models:
#   line_<n>.png    one line of black text on white (PP-OCR cls and rec)
#   document.png    a page-like image with several lines of text (PP-OCR det)
#   lines.json      the strings rendered into each image
#   hey_rhasspy.wav "hey rhasspy" spoken by espeak-ng (en-us, 120 wpm), 16 kHz mono PCM16 (openWakeWord
#                   detects it: score about 0.89; Silero VAD)
# Needs ImageMagick, espeak-ng and sox (Debian: apt-get install -y imagemagick espeak-ng sox) and the DejaVu
# fonts (fonts-dejavu-core). The outputs are committed, so the tests do not need these tools.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$here/assets/samples"
fonts=/usr/share/fonts/truetype/dejavu
# Some machines put a stand-in `convert` first on PATH; use ImageMagick's own binary when it is there.
convert_bin=/usr/bin/convert
[ -x "$convert_bin" ] || convert_bin="$(command -v convert)"
for tool in "$convert_bin" espeak-ng sox; do
  command -v "$tool" >/dev/null || { echo "make-samples: '$tool' is missing (apt-get install -y imagemagick espeak-ng sox)" >&2; exit 1; }
done
mkdir -p "$out"

# Text lines: varied words, digits and fonts. The text goes to lines.json exactly as rendered.
line_texts=(
  "Invoice 2048 paid"
  "quick brown fox 37"
  "TESSERA runtime 0.1"
  "Order no. 91653"
)
line_fonts=(DejaVuSans.ttf DejaVuSerif.ttf DejaVuSans-Bold.ttf DejaVuSansMono.ttf)

json_lines=""
for i in "${!line_texts[@]}"; do
  text="${line_texts[$i]}"
  # label: sizes the canvas to the text; a 12 px white border keeps the glyphs off the edges.
  "$convert_bin" -background white -fill black -font "$fonts/${line_fonts[$i]}" -pointsize 30 \
    "label:$text" -bordercolor white -border 12x8 \
    -colorspace Gray -depth 8 -strip "PNG8:$out/line_$i.png"
  json_lines+="    { \"file\": \"line_$i.png\", \"text\": \"$text\" },"$'\n'
done

# A document: a title and a few body lines at different sizes on a 320x320 page.
doc_texts=("Shipping Note" "Item 4417 boxes: 12" "Delivered on 2024-03-18" "Total weight 86 kg" "Thank you")
doc_sizes=(26 18 18 18 16)
doc_y=(40 100 145 190 260)
draw_args=()
for i in "${!doc_texts[@]}"; do
  draw_args+=(-font "$fonts/DejaVuSans.ttf" -pointsize "${doc_sizes[$i]}" -annotate "+24+${doc_y[$i]}" "${doc_texts[$i]}")
done
"$convert_bin" -size 320x320 xc:white -fill black "${draw_args[@]}" \
  -colorspace Gray -depth 8 -strip "PNG8:$out/document.png"
json_doc=""
for i in "${!doc_texts[@]}"; do
  sep=","; [ "$i" -eq $((${#doc_texts[@]} - 1)) ] && sep=""
  json_doc+="\"${doc_texts[$i]}\"$sep "
done

{
  echo "{"
  echo "  \"lines\": ["
  printf '%s' "${json_lines%,$'\n'}"
  echo
  echo "  ],"
  echo "  \"document\": { \"file\": \"document.png\", \"lines\": [ ${json_doc% } ] }"
  echo "}"
} > "$out/lines.json"

# Speech: espeak-ng's American English voice at 120 words a minute; at its default 175 (or 140) wpm the
# hey_rhasspy model scores the clip below 0.15, at 120 wpm about 0.89 (threshold 0.5). Measured with the
# streaming pipeline (examples/wakeword-stream.ts) over espeak-ng voices, speeds and paddings:
#   en-us:    100 wpm 0.82, 110 0.86, 120 0.86-0.89, 130 0.39, 150 0.02
#   en-us+f3: 100 wpm 0.91, 110 0.92, 120 0.90, 130 0.57, 150 0.09;   default voice (en) 120 wpm 0.23
# espeak-ng writes 22.05 kHz; sox resamples to 16 kHz mono PCM16 and pads 1.0 s of silence before the words
# (so a streaming consumer scores several windows before the wake word arrives and Silero VAD sees silence
# then speech) and 0.6 s after; -D -R (no dither, fixed random seed) make the output byte-for-byte
# reproducible.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
espeak-ng -v en-us -s 120 -w "$tmp/speech.wav" "hey rhasspy"
sox -D -R "$tmp/speech.wav" -r 16000 -c 1 -b 16 -e signed-integer "$out/hey_rhasspy.wav" pad 1.0 0.6

ls -l "$out"
