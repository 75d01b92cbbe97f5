#!/bin/sh
# Run from the repository root (sh examples/sweeps/resnext_table3.sh); extra options pass through ("$@").
# ResNeXt: cardinality C vs bottleneck width d at preserved complexity (Xie et al. 2017, Aggregated
# Residual Transformations for Deep Neural Networks). Table 2 lists the settings, C = 1, 2, 4, 8, 32
# with d = 64, 40, 24, 14, 4 (the grouped conv 64, 80, 96, 112, 128 wide); Table 3 trains them at
# ~4.1 billion FLOPs (ResNet-50) and ~7.8 billion (ResNet-101) (the paper's FLOPs are multiply-adds,
# archspec's MACs). Here the whole C x d grid is counted and --where keeps the networks of ResNet-50's
# (ResNet-101's) parameter count within 1M: exactly Table 2's five settings (tests/test_sweep.py).
archspec sweep specs/resnet50.yaml --grid groups=1,2,4,8,32 --grid base_width=4,14,24,40,64 \
    --where "abs(params - 25.5e6) < 1e6" -o sweeps/resnext50_table3 "$@"
archspec sweep specs/resnet50.yaml --set "layers=[3,4,23,3]" --grid groups=1,2,4,8,32 --grid base_width=4,14,24,40,64 \
    --where "abs(params - 44.5e6) < 1e6" -o sweeps/resnext101_table3 "$@"
