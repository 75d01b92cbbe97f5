#!/bin/sh
# Regenerate docs/img/visualize/*.png (the README's ZFNet-style pictures): LeNet-5 trained on
# scikit-learn's digits as the README's command does, then `archspec visualize` on its checkpoint.
set -e
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"    # one thread: on a busy 2-core machine, two thrash
ckpt=$(mktemp -d)
trap 'rm -rf "$ckpt"' EXIT
python -m archspec train specs/lenet5.yaml --data digits --epochs 15 --lr 0.002 --lr-step 4 --lr-gamma 0.5 \
    --checkpoint "$ckpt" --no-progress
python -m archspec visualize "$ckpt" --data digits -o docs/img/visualize --image 0
