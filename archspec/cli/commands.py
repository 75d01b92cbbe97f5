"""The `archspec` command line. validate, summary, schema and diagram never import torch."""
from __future__ import annotations

import argparse
import functools
import io
import json
import os
import sys

from ..errors import Diagnostic, Loc, SpecErrors, printable, warn
from ..names import one_line
from ..plugins import load_plugins
from ..version import __version__
from . import argtypes


def _spec_args(p: argparse.ArgumentParser, many: bool = False) -> None:
    p.add_argument("spec", nargs="+" if many else None, help="spec YAML file")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override a parameter; the value is YAML (--set layers=[2,2,2,2]); repeatable")
    p.add_argument("--strict", action="store_true", help="treat warnings (e.g. an unused node) as errors")
    p.add_argument("--ops", action="append", default=[], metavar="FILE.py|MODULE",
                   help="import your own ops (classes decorated with archspec.ops.register); repeatable")


def _graph(path: str, sets: list[str], strict: bool = False):
    """The spec's Graph; its warnings go to stderr (with --strict they are errors)."""
    from .. import analyze, load
    return _warn(analyze(load(path, sets)), strict)


def _warn(g, strict: bool):
    warn(g.warnings, strict)
    return g


def cmd_validate(args) -> int:
    from .. import analyze, load
    from ..frontend.expand import check_library
    failed = 0
    for path in args.spec:
        try:
            spec = load(path, args.sets, library_ok=True)
            if spec.is_library:
                check_library(spec)
                print(f"{path}: ok (block library: {len(spec.blocks)} blocks; shapes are checked where "
                      "a network uses them)")
                continue
            g = _warn(analyze(spec), args.strict)
            _check_reference(g)
            if g.table:         # the paper table's configurations are networks too
                from ..reports.table import paper_table
                paper_table(g)
        except SpecErrors as e:
            print(e, file=sys.stderr)
            failed += 1
            continue
        print(f"{path}: ok ({len(g.nodes)} nodes, {g.params:,} params, {g.macs:,} MACs)")
    return 1 if failed else 0


def _check_reference(g) -> None:
    """A spec's own `reference:` figures must hold (unless --set changed the network)."""
    from ..reports.report import reference_applies, reference_checks
    if not reference_applies(g):
        return
    wrong = [c for c in reference_checks(g) if not c.holds]
    if wrong:
        raise SpecErrors([Diagnostic(g.meta.reference_loc, f"reference: {c}",
                                     hint="correct the figure, or the network, so that they agree")
                          for c in wrong])


def cmd_summary(args) -> int:
    from ..reports.report import format_summary
    g = _graph(args.spec, args.sets, args.strict)
    fmt = "json" if args.json else args.format
    if fmt == "paper":
        from ..reports.table import format_paper
        print(format_paper(g))
        return 0
    memory = None
    if args.batch or args.dtype or args.optimizer:
        from ..reports.memory import training_memory
        memory = training_memory(g, args.batch or 1, args.dtype or "float32", args.optimizer or "sgd")
    print(format_summary(g, fmt, args.depth, memory))
    return 0


def cmd_diagram(args) -> int:
    import importlib.util

    from ..reports import render
    suffix = args.output.rpartition(".")[2].lower() if args.output and "." in args.output else None
    fmt = args.format or (suffix if suffix in (*render.FORMATS, "html") else "svg")
    if fmt != "html" and importlib.util.find_spec("graphviz") is None:    # the `diagram` extra; html lays out in JS
        print("archspec diagram needs the graphviz package: pip install 'archspec[diagram]' "
              "(--format html does not)", file=sys.stderr)
        return 1
    g = _graph(args.spec, args.sets, args.strict)
    try:
        if fmt == "html":
            from ..reports import viewer
            render.check_expand(g, tuple(args.expand))
            depth = render.default_depth(g) if args.depth is None else args.depth
            path = viewer.write(g, args.output, depth, tuple(args.expand))
            print(f"wrote {path} (interactive: every block opens and closes by click)")
            return 0
        drawing = render.render(g, args.output, fmt, args.depth, args.direction, tuple(args.expand))
    except render.DiagramError as e:
        print(f"archspec diagram: error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {', '.join(map(str, drawing.paths))} ({render.describe(drawing.view)})")
    if drawing.split:
        print(drawing.split)
    return 0


def cmd_diff(args) -> int:
    """Two specs (or one at two settings) side by side; --set applies to both, --set-a/--set-b to one."""
    from ..reports.diff import diff, format_diff
    sides: list = []
    for path, own in ((args.a, args.sets_a), (args.b, args.sets_b)):
        sides.append(_graph(path, args.sets + own, args.strict))
    d = diff(sides[0], sides[1], args.depth, args.count_elementwise)
    if args.format in ("dot", "svg", "png", "pdf"):
        try:
            from ..reports import diffdraw, render
        except ImportError as e:        # graphviz is the `diagram` extra
            if e.name != "graphviz":
                raise
            print(f"archspec diff --format {args.format} needs the graphviz package: pip install 'archspec[diagram]'",
                  file=sys.stderr)
            return 1
        try:
            print(f"wrote {diffdraw.draw(d, args.output, args.format)}")
        except render.DiagramError as e:
            print(f"archspec diff: error: {e}", file=sys.stderr)
            return 1
        return 0
    if args.output:
        raise SpecErrors([Diagnostic(Loc("-o"), f"-o writes a diagram; --format {args.format} prints to the terminal",
                                     hint="use --format svg (or dot, png, pdf) with -o, or redirect the output")])
    print(format_diff(d, args.format))
    return 0


def cmd_build(args) -> int:
    """Validate, summarise, write DIR/<name>.py atomically (nothing on error); --check and
    --export build the module, and only they import torch."""
    from ..files import write_atomic
    from ..pytorch.emit import emit, module_filename
    from ..reports.report import format_summary
    g = _graph(args.spec, args.sets, args.strict)      # expanded once: every step below takes this Graph
    text = emit(g)
    print(format_summary(g))
    path = write_atomic(os.path.join(args.output, module_filename(g)), text)
    print(f"wrote {path}")
    if not (args.check or args.export or args.fuse):
        return 0
    from ..pytorch import compiler
    if args.check:
        report = compiler.check(g)
        print(f"check:\n{report}")
        if not report.ok:
            return 1
    model_class = compiler.load_source(text, g.name).Model
    if args.fuse:
        fused = compiler.check_fused(model_class(), g.input_shape)
        print(f"fuse: {fused}")
        if not fused.ok:
            return 1
    for fmt in dict.fromkeys(args.export):
        model = compiler.fuse_model(model_class()) if args.fuse else model_class()
        out = str(path.with_suffix(compiler.EXPORTS[fmt]))
        print(f"wrote {out} ({compiler.export(model, g.input_shape, fmt, out)})")
    return 0


def cmd_list(args) -> int:
    """The spec library as a table; exit 1 when a spec fails or its reference does not hold."""
    from ..reports.catalog import catalog, format_catalog
    if not os.path.isdir(args.folder):
        raise SpecErrors([Diagnostic(Loc(one_line(args.folder, 120)), "not a folder")])
    entries = catalog(args.folder)
    print(format_catalog(entries, args.format))
    return 1 if any(e.error or e.holds is False for e in entries) else 0


def cmd_import(args) -> int:
    """A PyTorch model as a spec file (imports torch; FILE.py:FACTORY runs that file)."""
    from ..pytorch.importing import import_source
    path, g = import_source(args.source, args.output, args.input)
    blocks = len({s.block for s in g.scopes.values() if s.kind == "block"})
    print(f"wrote {path} ({len(g.nodes)} nodes, {blocks} block{'' if blocks == 1 else 's'}, {g.params:,} params, "
          f"{g.macs:,} MACs)")
    return 0


def _input(text: str) -> tuple:
    parts = text.split(",")
    if len(parts) != 3 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"--input is C,H,W (three positive ints), got {text!r}")
    return tuple(int(p) for p in parts)

def cmd_train(args) -> int:
    """Train a spec's network (archspec.pytorch.train); under torchrun, one process of the job."""
    if not _has_train_extra():
        return 1
    from ..pytorch.train import Config, train
    options = {k: getattr(args, k) for k in ("data", "limit", "epochs", "batch_size", "optimizer", "lr", "lr_step",
                                             "lr_gamma", "momentum", "weight_decay", "label_smoothing",
                                             "augment", "protocol", "accumulate", "amp", "checkpoint", "resume",
                                             "seed", "workers", "threads")}
    cfg = Config(args.spec, args.sets, strict=args.strict, progress=not args.no_progress, **options)
    if args.print_recipe:
        from ..pytorch.train.loop import resolved_recipe
        print("\n".join(resolved_recipe(cfg).lines()))
        return 0
    train(cfg)
    return 0


def cmd_eval(args) -> int:
    """Evaluate a checkpoint alone on --data under a test protocol (the recipe's by default)."""
    if not _has_train_extra():
        return 1
    from ..pytorch.train.evalcmd import evaluate_checkpoint
    print(evaluate_checkpoint(args.checkpoint, args.data, args.protocol, args.threads))
    return 0


def _has_train_extra() -> bool:
    import importlib.util
    missing = [m for m in ("torch", "torchvision", "sklearn", "tqdm", "matplotlib")
               if importlib.util.find_spec(m) is None]
    if missing:
        print(f"archspec train and visualize need {', '.join(missing)}: pip install 'archspec[train]'", file=sys.stderr)
    return not missing


def cmd_visualize(args) -> int:
    if not _has_train_extra():
        return 1
    from ..pytorch.train.visualize import visualize
    for path in visualize(args.checkpoint, args.output, args.layer, args.image, args.patch, args.data):
        print(f"wrote {path}")
    return 0

def _train_args(p: argparse.ArgumentParser) -> None:
    _spec_args(p)
    p.add_argument("--data", default="digits", metavar="digits|folder:PATH",
                   help="scikit-learn's 8x8 digits resized to the spec's input (default), or an ImageFolder")
    # each of these overrides the spec's train: section (whose values override archspec's defaults)
    p.add_argument("--limit", type=argtypes.positive, default=None, metavar="N",
                   help="at most N images of each split, evenly spaced through it (a smoke run)")
    p.add_argument("--epochs", type=argtypes.positive, default=None, help="default: the recipe's, else 10")
    p.add_argument("--batch-size", type=argtypes.batch, default=None,
                   help="the global batch (split over processes); default: the recipe's, else 32")
    p.add_argument("--optimizer", choices=["sgd", "rmsprop", "adam", "adamw"], default=None)
    p.add_argument("--lr", type=argtypes.positive_float, default=None,
                   help="default: the recipe's, else SGD 0.05, RMSProp and Adam 0.001; an RBF output (LeNet-5) "
                   "0.001 and 0.0003")
    p.add_argument("--lr-step", type=argtypes.non_negative, default=0, metavar="N",
                   help="multiply the lr by --lr-gamma every N epochs")
    p.add_argument("--lr-gamma", type=argtypes.positive_float, default=None)
    p.add_argument("--momentum", type=argtypes.momentum, default=None)
    p.add_argument("--weight-decay", type=argtypes.weight_decay, default=None)
    p.add_argument("--label-smoothing", type=argtypes.fraction, default=None, metavar="E")
    p.add_argument("--augment", nargs="?", const="crop+flip", choices=["crop+flip", "crop", "distort", "none"],
                   default=None, help="AlexNet's random crops and mirror images (crop: no mirroring); distort: "
                   "LeCun's random affine distortions; none: no augmentation (default: the recipe's)")
    p.add_argument("--protocol", choices=["full", "center", "ten_crop"], default=None,
                   help="test views: the image, its center crop, or ten crops averaged (default: the recipe's)")
    p.add_argument("--accumulate", type=argtypes.positive, default=None, metavar="N",
                   help="sum N batches' gradients a step (default: 1, or on a GPU what its memory needs)")
    p.add_argument("--print-recipe", action="store_true",
                   help="print the resolved training recipe, each value with its source, and stop")
    p.add_argument("--amp", action="store_true", help="mixed precision: float16 on GPU, bfloat16 autocast on CPU")
    p.add_argument("--checkpoint", metavar="DIR", help="write DIR/last.pt after every epoch")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint DIR")
    p.add_argument("--seed", type=argtypes.seed, default=0)
    p.add_argument("--workers", type=argtypes.workers, default=0, help="data loading processes")
    p.add_argument("--threads", type=argtypes.threads, default=None, metavar="N",
                   help="torch's CPU threads (default: OMP_NUM_THREADS where set, else half the CPUs this process "
                        "may use, at least 1; fewer threads are much faster on a busy machine)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def cmd_sweep(args) -> int:
    """A design space: every point counted (torch-free), and with --train trained on Ray."""
    from ..sweep.run import Options, sweep
    return sweep(Options(**{k: v for k, v in vars(args).items() if k in Options.__dataclass_fields__}))


def _sweep_args(p: argparse.ArgumentParser) -> None:
    _spec_args(p)
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="sweep a spec parameter (or train.KEY, an option of archspec train) over these values "
                        "(YAML each); repeatable: the grid of every combination")
    p.add_argument("--sample", type=argtypes.positive, default=None, metavar="N",
                   help="N random points instead of the grid: --grid axes drawn among their values, --range axes "
                        "from their range")
    p.add_argument("--range", action="append", default=[], metavar="KEY=LO:HI[:log][:int]",
                   help="a sampled axis: uniform, log-uniform (:log) or whole numbers (:int); repeatable")
    p.add_argument("--seed", type=argtypes.seed, default=0, help="of --sample's draws")
    p.add_argument("--seeds", type=argtypes.positive, default=1, metavar="N", help="train each point N times "
                   "(seeds 0 to N-1)")
    p.add_argument("--where", metavar="EXPR", help="keep the points where EXPR holds, over the swept keys and "
                   "params, macs, flops, activations, memory_bytes: 'abs(params - 25e6) < 1e6'")
    p.add_argument("-o", "--output", default="sweep", metavar="DIR",
                   help="results.csv, results.json, pictures and trials/ (default: sweep/)")
    p.add_argument("--batch-size", type=argtypes.batch, default=32, metavar="B",
                   help="training memory's batch, and training's (train.batch_size wins; default 32)")
    p.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32",
                   help="training memory's dtype")
    p.add_argument("--train", action="store_true", help="train every kept point on Ray (archspec train's loop)")
    p.add_argument("--data", default="digits", metavar="digits|folder:PATH", help="what --train trains on")
    p.add_argument("--address", help="an existing Ray cluster (default: a local Ray instance)")
    p.add_argument("--cpus", type=argtypes.threads, default=None, metavar="N",
                   help="the local Ray instance's CPUs (default: the machine's)")
    p.add_argument("--cpus-per-trial", type=argtypes.threads, default=1, metavar="N",
                   help="CPUs (and torch threads) of one trial (default 1)")
    p.add_argument("--gpus-per-trial", type=argtypes.number(0.0, 64.0, high_open=False), default=None,
                   metavar="G", help="GPUs of one trial (default: 1 where the cluster has GPUs, else 0)")
    p.add_argument("--asha", action="store_true", help="stop poor trials early: asynchronous successive halving")
    p.add_argument("--asha-eta", type=argtypes.integer(2, 100, "a reduction factor"), default=3, metavar="ETA",
                   help="ASHA promotes the best 1/ETA of a rung to the next, ETA times as many epochs (default 3)")
    p.add_argument("--asha-min-epochs", type=argtypes.positive, default=1, metavar="R",
                   help="the epochs of ASHA's first rung (default 1)")
    p.add_argument("--no-pictures", dest="pictures", action="store_false", help="no PNGs")


def cmd_schema(args) -> int:
    from ..frontend.schema import json_schema
    print(json.dumps(json_schema(), indent=1))
    return 0


def _validate_args(p: argparse.ArgumentParser) -> None:
    _spec_args(p, many=True)


def _summary_args(p: argparse.ArgumentParser) -> None:
    _spec_args(p)
    p.add_argument("--depth", type=argtypes.depth, default=None,
                   help="collapse the hierarchy below this depth; 0 lists every node (the default)")
    p.add_argument("--format", choices=["table", "md", "csv", "json", "paper"], default="table",
                   help="paper: the paper's table, as the spec's table: declares it")
    p.add_argument("--json", action="store_true", help="same as --format json")
    p.add_argument("--batch", type=argtypes.batch, default=None, metavar="B",
                   help="training memory at this batch size: parameters, gradients, optimizer state and the "
                        "activations autograd keeps, per node and in total")
    p.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default=None,
                   help="of parameters and activations for the training memory (default float32)")
    p.add_argument("--optimizer", choices=["sgd", "adam"], default=None,
                   help="optimizer state: sgd with momentum keeps 1 value per parameter, adam 2 (default sgd)")


def _diff_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("a", metavar="A.yaml", help="the first spec (the baseline)")
    p.add_argument("b", metavar="B.yaml", help="the second spec (may be the same file with other --set-b values)")
    for flag, dest, which in (("--set", "sets", "both sides"), ("--set-a", "sets_a", "A only"),
                              ("--set-b", "sets_b", "B only")):
        p.add_argument(flag, dest=dest, action="append", default=[], metavar="KEY=VALUE",
                       help=f"override a parameter of {which}; the value is YAML; repeatable")
    p.add_argument("--strict", action="store_true", help="treat warnings (e.g. an unused node) as errors")
    p.add_argument("--ops", action="append", default=[], metavar="FILE.py|MODULE", help="load your own ops")
    p.add_argument("--depth", type=argtypes.depth, default=None,
                   help="compare rows collapsed below this depth, as summary --depth; 0 every node (the default)")
    p.add_argument("--format", choices=["table", "md", "csv", "json", "dot", "svg", "png", "pdf"], default="table",
                   help="a table (table, md, csv, json) printed, or a two-column diagram (dot, svg, png, pdf) "
                        "written to -o")
    p.add_argument("-o", "--output", help="the diagram's file (default: diff_<A>_<B>.<format> here)")
    p.add_argument("--count-elementwise", action="store_true",
                   help="add columns and totals for pooling, add and mul element operations (outside MACs)")


def _diagram_args(p: argparse.ArgumentParser) -> None:
    _spec_args(p)
    p.add_argument("-o", "--output", help="output file (default: <spec name>.<format> here)")
    p.add_argument("--format", choices=["svg", "png", "pdf", "dot", "html"], default=None,
                   help="default: from the -o suffix, else svg; html: one self-contained interactive page")
    p.add_argument("--depth", type=argtypes.depth, default=None,
                   help="collapse the hierarchy below this depth; 0 draws every node "
                        "(default: the deepest that fits about 40 boxes)")
    p.add_argument("--direction", choices=["TB", "LR"], default="TB", help="top-to-bottom or left-to-right")
    p.add_argument("--expand", action="append", default=[], metavar="PATH",
                   help="open the blocks whose path matches this glob (layer3.1, 'Mixed_6*') one level more, "
                        "while the rest stays collapsed; repeatable")


def _build_args(p: argparse.ArgumentParser) -> None:
    _spec_args(p)
    p.add_argument("-o", "--output", default="build", metavar="DIR", help="output folder (default: build/)")
    p.add_argument("--export", action="append", default=[], choices=["torchscript", "onnx", "exported-program"],
                   help="also write this artefact beside the .py; repeatable")
    p.add_argument("--fuse", action="store_true",
                   help="fold batch norms into their convs (Model.fuse(), eval mode): check the fused "
                        "outputs against the unfused ones, and export the fused module")
    p.add_argument("--check", action="store_true",
                   help="build the module and compare params, MACs (FlopCounterMode) and every shape "
                        "with the analytic figures")


def _list_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("folder", nargs="?", default="specs", help="default: specs")
    p.add_argument("--format", choices=["table", "md", "csv", "json"], default="table")
    p.add_argument("--ops", action="append", default=[], metavar="FILE.py|MODULE", help="load your own ops")


def _import_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="SOURCE", help="torchvision:NAME, timm:NAME or FILE.py:FACTORY (runs that file)")
    p.add_argument("-o", "--output", help="output spec file (default: <name>.yaml here)")
    p.add_argument("--input", type=_input, default=None, metavar="C,H,W",
                   help="input shape (default: the model's usual one, else 3,224,224)")
    p.add_argument("--ops", action="append", default=[], metavar="FILE.py|MODULE",
                   help="load your own ops; an op whose `imports` names a module class stands for it")


def _visualize_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="a checkpoint file or folder (archspec train --checkpoint)")
    p.add_argument("-o", "--output", default="visualize", metavar="DIR", help="output folder (default: visualize/)")
    p.add_argument("--data", required=True, metavar="digits|folder:PATH",
                   help="the images to draw (as train takes them; never the data the checkpoint names)")
    p.add_argument("--layer", help="the node whose feature maps to show (default: the first conv's)")
    p.add_argument("--image", type=argtypes.non_negative, default=0, help="which held-out image of --data (default: 0)")
    p.add_argument("--patch", type=argtypes.positive, default=None, help="occluding patch size (default: input / 4)")


def _eval_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="a checkpoint file or folder (archspec train --checkpoint)")
    p.add_argument("--data", required=True, metavar="digits|folder:PATH", help="the images to test on")
    p.add_argument("--protocol", choices=["full", "center", "ten_crop"], default=None,
                   help="test views (default: the checkpoint's recipe's)")
    p.add_argument("--threads", type=argtypes.threads, default=None, metavar="N", help="torch's CPU threads")


def _no_args(p: argparse.ArgumentParser) -> None:
    pass


# Each subcommand: its name, its line in `archspec --help`, its arguments, what runs it.
COMMANDS = (
    ("validate", "check specs: every shape, name and reference", _validate_args, cmd_validate),
    ("summary", "per-layer table of shapes, params and MACs", _summary_args, cmd_summary),
    ("diff", "two architectures side by side: per-row shapes, params and MACs, deltas", _diff_args, cmd_diff),
    ("diagram", "draw the architecture with Graphviz (svg, png, pdf or dot), or as an interactive page (html)",
     _diagram_args, cmd_diagram),
    ("build", "compile to a PyTorch module file (and TorchScript, ONNX, torch.export)", _build_args, cmd_build),
    ("list", "the networks of a folder: counts and whether their references hold", _list_args, cmd_list),
    ("import", "write a spec from a PyTorch model (torchvision:NAME, timm:NAME, FILE.py:FACTORY)",
     _import_args, cmd_import),
    ("train", "train the network (digits or an ImageFolder); runs under torchrun too", _train_args, cmd_train),
    ("eval", "top-1/top-5 of a trained checkpoint on --data, under a test protocol", _eval_args, cmd_eval),
    ("visualize", "ZFNet-style pictures of a trained checkpoint (PNG)", _visualize_args, cmd_visualize),
    ("sweep", "a design space: every point counted (results.csv, pictures), and trained on Ray with --train",
     _sweep_args, cmd_sweep),
    ("schema", "print the spec files' JSON Schema (for editors)", _no_args, cmd_schema),
)


@functools.cache      # one per process: main() runs many times in one (tests, scripts), ~7 ms to build
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="archspec", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"archspec {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_, add_args, run in COMMANDS:
        p = sub.add_parser(name, help=help_)
        add_args(p)
        p.set_defaults(run=run)
    return parser


class _Printable(io.TextIOBase):
    """A terminal stream that shows spec text's control characters (escape sequences) as spaces."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> int:
        return self.stream.write(printable(text))

    def flush(self) -> None:
        self.stream.flush()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Printable(out), _Printable(err)
    try:
        load_plugins(getattr(args, "ops", []))
        return args.run(args)
    except SpecErrors as e:
        print(e, file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    except Exception as e:     # noqa: BLE001 - a bug in archspec: one line, not a traceback
        if os.environ.get("ARCHSPEC_DEBUG"):
            raise
        print(f"archspec: internal error: {type(e).__name__}: {one_line(e)} (a bug: please report it with "
              "the spec; ARCHSPEC_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 1
    finally:
        sys.stdout, sys.stderr = out, err


if __name__ == "__main__":
    sys.exit(main())
