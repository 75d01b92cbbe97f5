"""Run under torchrun by tests/test_train.py: train (checkpointing into OUT/ck, resuming from it with
a fifth argument), then save this process's weights as OUT/rank<R>.pt, so the test can compare the
replicas with each other, with one process and with a resumed job. Without the recipe's distortions
(each process draws its own, seed + rank: one process sees other images) and at the steady rate
0.001: at the recipe's 0.002, near the edge of Eq. (9)'s RBF loss, a rounding difference grows by
itself, in one process too (the same steps whole or as two accumulated halves: 2.2e-3 apart after
one epoch at 0.002, 1.7e-6 at 0.001; README, Several GPUs and machines)."""
import os
import sys

import torch

from archspec.pytorch.train import Config, train

spec, out, epochs, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
result = train(Config(spec, epochs=epochs, batch_size=batch, checkpoint=os.path.join(out, "ck"), augment="none",
                      lr=0.001,
                      resume=sys.argv[5:] == ["resume"], progress=False))
torch.save(result.model.state_dict(), os.path.join(out, f"rank{os.environ.get('RANK', '0')}.pt"))
