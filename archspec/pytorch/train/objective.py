"""What a network is trained on: its heads, their losses and weights, and its class scores.

The main head is the spec's first output that is not training-only; training-only
outputs with a `loss_weight` (GoogLeNet's aux1/aux2 at 0.3, Inception-v3's aux at 0.4)
add their weighted losses in training mode. An RBF head (LeNet-5's output) gives
distances, not logits: its score for class i is -y_i and its loss is the paper's.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ...errors import Diagnostic, Loc, SpecErrors
from ...ir import Graph

# LeCun et al. 1998, Sec. II-C, Eq. (9): E = y_D + log(exp(-j) + sum_i exp(-y_i)), which is the
# cross-entropy of a softmax over the scores -y_i and one more "rubbish" class of fixed score -j:
# it pulls the correct class's distance y_D down and pushes the others up, but no further than j.
# The paper leaves j open; 84 is half the squared distance between two random +-1 codes of F6's 84
# units (they differ in 42 places on average: 42 * 2^2 = 168).
RBF_RUBBISH = 84.0


@dataclass(frozen=True)
class Head:
    output: str        # the spec's output name
    node: str
    weight: float
    rbf: bool          # distances (lower is better), trained with Eq. (9)


class Objective:
    def __init__(self, graph: Graph, num_classes: int, label_smoothing: float = 0.0, knobs=(),
                 weights: dict[str, float] | None = None):
        """`knobs`: the spec's params (a hint names num_classes when it is one); `weights`: the
        recipe's loss weights of training-only outputs, over the spec's loss_weight."""
        outputs = list(graph.outputs.values())
        main = next((o for o in outputs if not o.train_only), outputs[0])
        weights = dict(weights or {})
        odd = next((k for k in weights if k not in graph.outputs or not graph.outputs[k].train_only), None)
        if odd is not None:
            aux = [o.name for o in outputs if o.train_only]
            raise SpecErrors([Diagnostic(Loc("train.aux_weights"), f"'{odd}' is not a training-only output",
                                         hint=f"this network's: {', '.join(aux) or 'none'}")])
        self.heads = [Head(o.name, o.node, 1.0 if o is main else float(weights.get(o.name, o.loss_weight or 0.0)),
                           graph.nodes[o.node].op.name == "rbf")
                      for o in outputs if o is main or (o.train_only and weights.get(o.name, o.loss_weight))]
        self.main = self.heads[0]
        self.num_classes = num_classes
        self.label_smoothing = label_smoothing
        _check_classes(graph, self.heads, num_classes, "num_classes" in knobs)

    def describe(self) -> str:
        """The loss as a formula: `output (RBF, LeCun Eq. 9)`, `logits + 0.3 aux1 + 0.3 aux2`."""
        def term(h: Head) -> str:
            name = f"{h.output} (RBF, LeCun Eq. 9)" if h.rbf else h.output
            return name if h.weight == 1 else f"{h.weight:g} {name}"
        smoothing = f", label smoothing {self.label_smoothing:g}" if self.label_smoothing else ""
        return " + ".join(term(h) for h in self.heads) + smoothing

    def split(self, out) -> dict[str, torch.Tensor]:
        """The module's result as {output name: tensor} (a single output comes as a tensor)."""
        return out if isinstance(out, dict) else {self.main.output: out}

    def loss(self, out, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The weighted sum of the heads' losses (training-only heads where present) and the
        main head's scores."""
        values = self.split(out)
        total = sum(h.weight * self._head_loss(h, values[h.output].float(), target)
                    for h in self.heads if h.output in values)
        return total, self.scores(values)     # type: ignore[return-value]

    def scores(self, out) -> torch.Tensor:
        """The main head's class scores (higher is more likely): logits, or -distance for RBF."""
        y = self.split(out)[self.main.output].float()
        return -y if self.main.rbf else y

    def probabilities(self, out) -> torch.Tensor:
        """P(class | image): the softmax of the scores (for RBF, with Eq. (9)'s rubbish class)."""
        return self._log_probs(self.scores(out), self.main.rbf).exp()

    def _head_loss(self, head: Head, y: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logp = self._log_probs(-y if head.rbf else y, head.rbf)
        nll = -logp.gather(1, target.unsqueeze(1)).squeeze(1)
        eps = self.label_smoothing        # Szegedy et al. 2016, Sec. 7: mix in a uniform target
        return ((1 - eps) * nll + eps * -logp.mean(1)).mean() if eps else nll.mean()

    @staticmethod
    def _log_probs(scores: torch.Tensor, rbf: bool) -> torch.Tensor:
        if not rbf:
            return F.log_softmax(scores, 1)
        rubbish = scores.new_full((scores.shape[0], 1), -RBF_RUBBISH)
        return F.log_softmax(torch.cat([scores, rubbish], 1), 1)[:, :-1]


def _check_classes(graph: Graph, heads: list[Head], num_classes: int, has_knob: bool) -> None:
    for h in heads:
        node = graph.nodes[h.node]
        if node.shape != (num_classes,):
            raise SpecErrors([Diagnostic(
                node.loc, f"output '{h.output}' gives {_describe(node.shape)}, but the data has "
                f"{num_classes} classes", path=node.name, chain=node.chain,
                hint=f"--set num_classes={num_classes}" if has_knob else
                f"give the last layer out: {num_classes} (or a num_classes param)")])


def _describe(shape) -> str:
    return f"{shape[0]} values" if shape and len(shape) == 1 else f"a tensor of shape {shape}"


def correct_topk(scores: torch.Tensor, target: torch.Tensor, k: int) -> int:
    """How many targets are among the k highest scores."""
    top = scores.topk(min(k, scores.shape[1]), 1).indices
    return int((top == target.unsqueeze(1)).any(1).sum())
