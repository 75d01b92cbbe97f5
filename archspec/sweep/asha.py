"""Early stopping for a training sweep (`--asha`): asynchronous successive halving, ASHA (Li et
al. 2020, A System for Massively Parallel Hyperparameter Tuning, Algorithm 2). Trials train rung by
rung, `min_epochs x eta^k` epochs up to the full count; whenever a worker is free, the best
1/eta of a rung's results so far (the highest rung first) goes on to the next rung, else a new
trial starts at the bottom one. A trial goes on from its checkpoint (archspec train's resume, which
lets --epochs grow), so a promoted trial never trains an epoch twice; a trial never promoted
stopped early, its row the error of its last rung (and `epochs`, how many it trained)."""
from __future__ import annotations


def ladder(min_epochs: int, max_epochs: int, eta: int) -> list[int]:
    """The rungs' epochs: min_epochs, x eta, ..., below max_epochs, then max_epochs."""
    rungs, r = [], min_epochs
    while r < max_epochs:
        rungs.append(r)
        r *= eta
    return rungs + [max_epochs]


class Asha:
    """The scheduler's state: each rung's results by trial, and who was promoted from it."""

    def __init__(self, trials: int, rungs: list[int], eta: int):
        self.rungs, self.eta = rungs, eta
        self.results: list[dict[int, float]] = [{} for _ in rungs]
        self.promoted: list[set[int]] = [set() for _ in rungs]
        self.new = list(range(trials))

    def job(self) -> tuple[int, int] | None:
        """(trial, rung) to train next: a promotion from the highest rung that has one, else a new
        trial at rung 0; None when neither is left (for now)."""
        for k in reversed(range(len(self.rungs) - 1)):
            done = sorted(self.results[k], key=lambda t: (self.results[k][t], t))
            for t in done[:len(done) // self.eta]:
                if t not in self.promoted[k]:
                    self.promoted[k].add(t)
                    return t, k + 1
        return (self.new.pop(0), 0) if self.new else None

    def report(self, trial: int, rung: int, error: float | None) -> None:
        """A trial's top-1 error at a rung (None: it failed, and is never promoted)."""
        if error is not None:
            self.results[rung][trial] = error
