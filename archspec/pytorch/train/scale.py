"""The recipe's batch on the machines at hand: split over torchrun's processes (the batch and the
learning-rate scaling rule are global), and reached by gradient accumulation where one GPU's memory
is short (the training-memory estimate of `summary --batch` decides, and the run says what it chose)."""
from __future__ import annotations

import torch

from ...errors import Diagnostic, Loc, SpecErrors
from ...reports.memory import mib, training_memory

# of the GPU's free memory, what the estimate may take: it counts what backward keeps, not the
# allocator's caching and workspaces
MEMORY_SHARE = 0.8


def batches(cfg, recipe, graph, world: int, device: torch.device, log) -> tuple[int, int]:
    """(images per process per forward, forwards per optimizer step)."""
    batch = recipe.batch_size
    if batch < 1 or batch % world:
        raise SpecErrors([Diagnostic(Loc("--batch-size"), f"{batch} does not split over {world} processes",
                                     hint=f"a multiple of {world}: the global batch is split evenly")])
    local = batch // world
    if cfg.accumulate is not None:
        if local % cfg.accumulate:
            raise SpecErrors([Diagnostic(Loc("--accumulate"), f"{cfg.accumulate} does not divide the "
                                         f"{local} images a process takes a step")])
        return local // cfg.accumulate, cfg.accumulate
    if device.type != "cuda":
        return local, 1
    free, _ = torch.cuda.mem_get_info(device)
    dtype = "float16" if cfg.amp else "float32"
    accumulate = choose(local, lambda b: training_memory(graph, b, dtype, _kind(recipe.optimizer)).total,
                        int(free * MEMORY_SHARE))
    if accumulate > 1:
        log(f"batch {batch}: {local} images a process do not fit in {mib(int(free * MEMORY_SHARE))} of the GPU "
            f"(summary --batch's estimate), so {accumulate} batches of {local // accumulate} make each step")
    return local // accumulate, accumulate


def choose(local: int, need, budget: int) -> int:
    """The fewest forwards a step (a divisor of `local`) whose batch's estimated memory `need(b)`
    fits the budget; all `local` if none does (one image a forward)."""
    for k in range(1, local + 1):
        if local % k == 0 and need(local // k) <= budget:
            return k
    return local


def _kind(optimizer: str) -> str:
    """The memory estimate's optimizer: one state per parameter (SGD's momentum) or two (Adam's
    moments; RMSProp's square average and momentum)."""
    return "sgd" if optimizer == "sgd" else "adam"
