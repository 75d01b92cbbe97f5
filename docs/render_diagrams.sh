#!/bin/sh
# Regenerate the README's diagrams with archspec's own CLI (needs Graphviz's `dot` on PATH).
#   sh docs/render_diagrams.sh
set -e
cd "$(dirname "$0")/.."
python -m archspec diagram specs/lenet5.yaml --depth 0 -o docs/img/lenet5.svg      # every node; C3 as Table I
python -m archspec diagram specs/googlenet.yaml --depth 1 -o docs/img/googlenet.svg  # stem, 9 inceptions, aux heads
python -m archspec diagram specs/resnet34.yaml --depth 1 -o docs/img/resnet34.svg    # stem, 4 stages, head
tmp=$(mktemp -d)                                                                      # an imported model
python -m archspec import torchvision:resnet50 -o "$tmp/resnet50.yaml"
python -m archspec diagram "$tmp/resnet50.yaml" --depth 2 -o docs/img/resnet50_imported.svg
rm -r "$tmp"
