"""`archspec train`'s CPU threads (archspec/pytorch/train/threads.py): half the CPUs by default, OMP_NUM_THREADS
or --threads where given, set for the run and restored after it."""
import pytest
import torch

from archspec.cli import main
from archspec.pytorch.train import loop
from archspec.pytorch.train.threads import cpu_threads


@pytest.mark.parametrize("cpus, local_world, expected", [(2, None, 1), (1, None, 1), (16, None, 8), (16, "2", 4),
                                                         (16, "64", 1), (7, None, 3)])
def test_default_is_half_the_cpus_shared_by_the_local_processes(monkeypatch, cpus, local_world, expected):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(cpus)), raising=False)
    if local_world is None:
        monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    else:
        monkeypatch.setenv("LOCAL_WORLD_SIZE", local_world)
    assert cpu_threads(None, current=99) == expected


def test_omp_num_threads_and_the_option_win(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert cpu_threads(None, current=3) == 3            # torch read OMP_NUM_THREADS itself
    assert cpu_threads(5, current=3) == 5
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert cpu_threads(5, current=3) == 5


def test_train_computes_with_them_and_restores_torchs(monkeypatch):
    seen = []
    monkeypatch.setattr(loop, "_train", lambda cfg, procs: seen.append(torch.get_num_threads()))
    before = torch.get_num_threads()
    loop.train(loop.Config("unused.yaml", threads=before + 2))
    assert seen == [before + 2] and torch.get_num_threads() == before


def test_the_cli_passes_threads_and_refuses_zero(monkeypatch, capsys):
    pytest.importorskip("sklearn")
    import archspec.pytorch.train
    configs = []
    monkeypatch.setattr(archspec.pytorch.train, "train", configs.append)
    assert main(["train", "net.yaml", "--threads", "3"]) == 0
    assert main(["train", "net.yaml"]) == 0
    assert [c.threads for c in configs] == [3, None]
    with pytest.raises(SystemExit) as e:
        main(["train", "net.yaml", "--threads", "0"])
    assert e.value.code == 2 and "--threads: expected a number of threads from 1 to 1,024, got '0'" \
        in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:      # torch fails far past the cores there are: capped
        main(["train", "net.yaml", "--threads", "99999"])
    assert e.value.code == 2 and "from 1 to 1,024, got '99999'" in capsys.readouterr().err
