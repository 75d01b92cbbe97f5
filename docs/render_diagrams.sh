#!/bin/sh
# Regenerate the README's diagrams with archspec's own CLI (needs Graphviz's `dot` on PATH), and the
# viewer screenshots with the browser tests (need Debian's chromium and the playwright package).
#   sh docs/render_diagrams.sh
set -e
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
python -m archspec diagram specs/lenet5.yaml -o docs/img/lenet5.svg              # every node; C3 as Table I
python -m archspec diagram specs/googlenet.yaml -o docs/img/googlenet.svg        # default: modules + glossary
python -m archspec diagram specs/resnet34.yaml -o docs/img/resnet34.svg          # default: stages + glossary
python -m archspec diagram specs/inception_v3.yaml -o docs/img/inception_v3.svg  # 1x7 / 7x1 in the glossary
python -m archspec diff specs/resnet50.yaml specs/seresnet50.yaml --format svg -o docs/img/diff_resnet50_seresnet50.svg
tmp=$(mktemp -d)                                                                # an imported model
python -m archspec import torchvision:resnet50 -o "$tmp/resnet50.yaml"
python -m archspec diagram "$tmp/resnet50.yaml" -o docs/img/resnet50_imported.svg
rm -r "$tmp"
ARCHSPEC_SCREENSHOTS=docs/img python -m pytest -q -p no:cacheprovider tests/test_viewer.py -k "resnet34_expand or googlenet_inception"
