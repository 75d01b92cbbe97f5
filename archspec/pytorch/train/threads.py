"""How many threads torch computes with on the CPU in `archspec train` (`--threads`).

torch's default is one per core. A network trained on the CPU here is small (LeNet-5, a CIFAR
ResNet on digits): its ops are too short to gain much from more threads, and every op waits at a
barrier for all of them, so a thread that waits for a core busy with another process stalls the
whole op. On the shared 2-core machine under a load of 8 to 10, an epoch of LeNet-5 took 43 to
61 s with torch's 2 threads and 3.2 to 3.7 s with 1 (README, Training). The default leaves half
the CPUs to the rest of the machine. The count is fixed by the CPUs, never by the current load:
float sums, and so the trained weights, depend on it, and a run must be repeatable."""
from __future__ import annotations

import os


def cpu_threads(requested: int | None, current: int) -> int:
    """--threads N; else torch's `current` count where OMP_NUM_THREADS sets it (torchrun sets 1);
    else half the CPUs this process may run on, shared by the torchrun processes on this machine,
    at least 1."""
    if requested:
        return requested
    if os.environ.get("OMP_NUM_THREADS"):
        return current
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cpus // (2 * max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))))
