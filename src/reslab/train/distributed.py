"""Data parallelism through PyTorch's own launcher; the world always comes from the environment.

A stage whose recipe asks for `nproc_per_node` > 1 re-runs its own command under
`torch.distributed.run` (the engine behind `torchrun`). A stage started by the user's own
`torchrun --nnodes ... --nproc-per-node ...` finds RANK, WORLD_SIZE and LOCAL_RANK already set
and joins that world. Backend nccl on CUDA, gloo on CPU; only rank 0 writes files.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import time

import torch
import torch.distributed as dist
from torch import nn

from reslab.core.cli import Terminated
from reslab.core.config import TrainConfig
from reslab.core.errors import ConfigError, ReslabError


def rank() -> int:
    return int(os.environ.get("RANK", 0))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", 1))


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", 0))


def is_main() -> bool:
    return rank() == 0


def in_world() -> bool:
    """True inside a torchrun-started process (even a world of one)."""
    return "WORLD_SIZE" in os.environ


def launch(nproc: int) -> None:
    """Run this very command again as `nproc` workers on this node and wait for them."""
    from torch.distributed import run
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    print(f"starting {nproc} data-parallel workers (torch.distributed.run --standalone)",
          flush=True)
    os.environ[LAUNCHER_ENV] = str(os.getpid())
    try:
        run.main(["--standalone", f"--nproc-per-node={nproc}", sys.argv[0], *sys.argv[1:]])
    except SignalException as e:  # the launcher forwarded it to the workers, who saved state
        raise (Terminated if e.sigval == signal.SIGTERM else KeyboardInterrupt)() from None
    except ChildFailedError as e:
        codes = sorted({f.exitcode for f in e.failures.values()})
        raise ReslabError(f"a data-parallel worker failed (exit {codes}); its message is above") \
            from None


def launched(train: TrainConfig) -> bool:
    """With `train.nproc_per_node` > 1 outside a torchrun world: run this stage's command (all
    its seeds) as that many workers and wait; True when they have done the stage's work, False
    when this process is to do it."""
    nproc = train.nproc_per_node
    if nproc <= 1 or in_world():
        return False
    if train.batch_size % nproc:
        raise ConfigError(f"train.batch_size: {train.batch_size} (the global batch) does not "
                          f"divide over {nproc} processes")
    launch(nproc)
    return True


LAUNCHER_ENV = "RESLAB_DDP_LAUNCHER"  # the pid of the stage process that started the workers


def _exit_with_launcher(launcher: int) -> None:
    """Workers run in sessions of their own: when the stage process that started them is
    killed outright (SIGKILL), they must not train on and write outputs behind DVC's back."""
    while True:
        time.sleep(0.5)
        if os.getppid() != launcher:
            os._exit(137)


def device_for(name: str) -> torch.device:
    """`auto`: CUDA when present, else CPU. On CUDA under DDP, the device is LOCAL_RANK's."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"runtime.device: {name!r} is not a device (use auto, cpu, cuda or "
                          "cuda:N)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"runtime.device: {name!r} requested but CUDA is not available")
        if device.index is None:
            device = torch.device("cuda", local_rank() if in_world() else 0)
    return device


def init(device: torch.device) -> None:
    """Join the process group of a torchrun world (nccl on CUDA, gloo on CPU); else nothing."""
    if os.environ.get(LAUNCHER_ENV) == str(os.getppid()):
        threading.Thread(target=_exit_with_launcher, args=(os.getppid(),), daemon=True).start()
    if world_size() > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        atexit.register(close)  # one group for every seed the stage trains


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def wrap(model: nn.Module, device: torch.device, sync_batchnorm: bool) -> nn.Module:
    """The module the training steps go through: DistributedDataParallel in a world of several
    processes (with SyncBatchNorm when asked, CUDA only), else `model` itself."""
    if not active():
        return model
    if sync_batchnorm:
        if device.type != "cuda":
            raise ConfigError("train.sync_batchnorm: SyncBatchNorm needs CUDA devices")
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    if active():
        dist.all_reduce(t)
    return t


def broadcast_buffers(model: nn.Module) -> None:
    """Rank 0's BatchNorm statistics everywhere, so every rank evaluates the model rank 0 saves."""
    if active():
        for buffer in model.buffers():
            dist.broadcast(buffer, 0)


def gather(obj) -> list:
    """Every rank's `obj`, in rank order (a one-element list outside DDP)."""
    if not active():
        return [obj]
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast(obj):
    """Rank 0's `obj` on every rank."""
    if not active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, 0)
    return box[0]


def close() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
