#!/bin/sh
# Run from the repository root (sh examples/sweeps/wrn_table4.sh); extra options pass through ("$@").
# Wide ResNets on CIFAR: depth x widening factor k (Zagoruyko & Komodakis 2016, Wide Residual Networks).
# Table 1 defines WRN-d-k (widths 16, 16k, 32k, 64k; depth = 6n + 4); Table 4 prints the parameter
# counts of ten of these 24 networks (WRN-40-1 0.6M ... WRN-28-10 36.5M ... WRN-16-10 17.1M), which
# the counted results.csv reproduces to the 0.1M printed (tests/test_sweep.py, tests/reference/wrn_table4.json).
archspec sweep specs/wrn_cifar.yaml --grid depth=16,22,28,40 --grid k=1,2,4,8,10,12 -o sweeps/wrn_table4 "$@"
