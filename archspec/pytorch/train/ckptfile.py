"""Reading a checkpoint file as untrusted input, with nothing allocated that the file does not hold.

A checkpoint is torch.save's zip: `data.pkl` (the structure) and one record per tensor storage.
torch.load is not used: even with weights_only=True its unpickler lets a file of 800 bytes
allocate any amount (REDUCE of `bytearray` or of a tensor class with a size), inflates a
deflate-compressed record before anything can check it, and rebuilds tensors as whatever views
the file claims (one stored float presented as 2x1x30000x30000 through zero strides). Here:

- the zip's directory is bounded before it is parsed; every record is stored (torch never
  compresses), its size within the limits, and the records together no larger than the file;
- data.pkl is read by Python's own unpickler with four globals (OrderedDict, tensor rebuild,
  the storage types), plain keys (str or a machine-size int: hashing a nested tuple or a huge
  int per key would cost without bound), and the memo in a dict (the C unpickler sizes a list by
  the largest memo index: 6 bytes ask for 32 GiB);
- a storage is read from its record only when its size there is exactly what the pickle claims;
  a tensor is the whole of its own storage, contiguous: its elements are stored bytes.
"""
from __future__ import annotations

import io
import math
import os
import pickle
import sys
import zipfile
from collections import OrderedDict
from typing import Any, Callable, ClassVar

import torch

from ... import limits

DTYPES = {"FloatStorage": torch.float32, "DoubleStorage": torch.float64, "HalfStorage": torch.float16,
          "BFloat16Storage": torch.bfloat16, "LongStorage": torch.int64, "IntStorage": torch.int32,
          "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8,
          "BoolStorage": torch.bool}
MAX_DIMS = 8                     # dimensions of one stored tensor


class Unreadable(Exception):
    """What is wrong with the file, for one `error:` line (the caller adds the path)."""


class _Storage:
    """A storage read from its record: a flat tensor of the stored bytes."""

    def __init__(self, key: str, data: torch.Tensor):
        self.key, self.data, self.used = key, data, False


class _DType:
    """`torch.FloatStorage` and the like as the pickle names them: only a dtype here."""

    def __init__(self, name: str):
        self.name, self.dtype = name, DTYPES[name]


def load(path: str) -> Any:
    """The unpickled checkpoint, its tensors plain and contiguous; Unreadable if not within bounds."""
    size = os.path.getsize(path)
    if size > limits.MAX_CHECKPOINT_BYTES:
        raise Unreadable(f"{size:,} bytes, more than archspec's limit of {limits.MAX_CHECKPOINT_BYTES:,} "
                         "for a checkpoint (limits.MAX_CHECKPOINT_BYTES)")
    with open(path, "rb") as f:
        _check_directory(f)
        try:
            archive = zipfile.ZipFile(f)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
            raise Unreadable(f"not a zip archive ({e})") from None
        with archive:
            records = _records(archive, size)
            prefix = next(iter(records)).split("/")[0]
            pkl = records.get(f"{prefix}/data.pkl")
            if pkl is None:
                raise Unreadable("no data.pkl record")
            if pkl.file_size > limits.MAX_CHECKPOINT_PICKLE:
                raise Unreadable(f"data.pkl is {pkl.file_size:,} bytes, more than archspec's limit of "
                                 f"{limits.MAX_CHECKPOINT_PICKLE:,} (limits.MAX_CHECKPOINT_PICKLE)")
            order = records.get(f"{prefix}/byteorder")
            if order is not None and (order.file_size > 16 or
                                      _read(archive, order).decode("ascii", "replace") != sys.byteorder):
                raise Unreadable(f"saved with another byte order than this machine's ({sys.byteorder})")
            unpickler = _Unpickler(io.BytesIO(_read(archive, pkl)), archive, records, prefix)
            try:
                return unpickler.load()
            except (Unreadable, MemoryError):      # MemoryError: a bound that failed, never "not a checkpoint"
                raise
            except Exception as e:      # noqa: BLE001 - any malformed pickle is one error
                raise Unreadable(f"data.pkl is not a checkpoint's ({type(e).__name__}: {str(e)[:160]})") from None


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """One record's bytes; a bad CRC, an encrypted or otherwise unreadable record is Unreadable."""
    try:
        return archive.read(info)
    except (zipfile.BadZipFile, RuntimeError, OSError, ValueError, NotImplementedError) as e:
        raise Unreadable(f"record '{info.filename[:80]}' cannot be read ({str(e)[:120]})") from None


def _check_directory(f) -> None:
    """The zip's central directory within bounds before zipfile parses it (each entry becomes an
    object: a 2 GB directory would take tens of GB). Found as zipfile finds it."""
    try:
        end = zipfile._EndRecData(f)     # type: ignore[attr-defined]  # the end record ZipFile will use
    except (OSError, AttributeError, ValueError):
        end = None
    if not end:
        raise Unreadable("not a zip archive (no end of central directory)")
    entries, directory = end[4], end[5]              # zipfile._ECD_ENTRIES_TOTAL, _ECD_SIZE
    if entries > limits.MAX_CHECKPOINT_RECORDS or directory > limits.MAX_CHECKPOINT_RECORDS * 512:
        raise Unreadable(f"{entries:,} records ({directory:,} bytes of directory), more than archspec's limit "
                         f"of {limits.MAX_CHECKPOINT_RECORDS:,} (limits.MAX_CHECKPOINT_RECORDS)")


def _records(archive: zipfile.ZipFile, size: int) -> dict[str, zipfile.ZipInfo]:
    """Every entry: stored, under one top folder, each name once, together no larger than the file
    (so no two records share bytes and nothing reads more than the file holds)."""
    infos = archive.infolist()
    if not infos or len(infos) > limits.MAX_CHECKPOINT_RECORDS:
        raise Unreadable(f"{len(infos):,} records")
    prefix = infos[0].filename.split("/")[0] + "/"
    records: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in infos:
        if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size:
            raise Unreadable(f"record {info.filename[:120]!r} is compressed (torch.save stores every record; "
                             "archspec reads no compressed record)")
        if not info.filename.startswith(prefix) or info.filename in records:
            raise Unreadable(f"record {info.filename[:120]!r} is out of place (outside {prefix} or repeated)")
        total += info.file_size
        records[info.filename] = info
    if total > size:
        raise Unreadable(f"its records claim {total:,} bytes, more than the file's {size:,}")
    return records


def _ordered_dict(*args) -> OrderedDict:
    if args:             # torch.save pickles OrderedDict() and then its items
        raise Unreadable("an OrderedDict with arguments")
    return OrderedDict()


def _rebuild_tensor(storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None) -> torch.Tensor:
    """torch._utils._rebuild_tensor_v2 for the one layout archspec writes: the whole storage,
    contiguous (strides of dimensions of size 1 do not matter)."""
    if not isinstance(storage, _Storage) or storage.used:
        raise Unreadable("a tensor without a storage of its own" if isinstance(storage, _Storage)
                         else "a tensor without a storage")
    if not (isinstance(size, tuple) and isinstance(stride, tuple) and len(size) == len(stride) <= MAX_DIMS
            and all(type(n) is int and 0 <= n <= limits.MAX_ELEMENTS for n in size + stride)):
        raise Unreadable(f"a tensor of shape {_short(size)} and strides {_short(stride)}")
    numel = storage.data.numel()
    if offset != 0 or math.prod(size) != numel:
        raise Unreadable(f"a tensor of shape {list(size)} at offset {_short(offset)} on a storage of {numel:,} "
                         "elements (a tensor must be its whole storage)")
    expected = 1
    for n, s in zip(reversed(size), reversed(stride)):
        if n > 1 and s != expected:
            raise Unreadable(f"a tensor of shape {list(size)} with strides {list(stride)}: not contiguous")
        expected *= n
    if requires_grad not in (False, True) or not (hooks is None or (type(hooks) is OrderedDict and not hooks)):
        raise Unreadable("a tensor with gradient hooks")
    storage.used = True
    return storage.data.view(size)


def _short(value) -> str:
    """A claimed value in a message: its type unless a short tuple of ints (never a long repr)."""
    if type(value) is int or (isinstance(value, tuple) and len(value) <= MAX_DIMS
                              and all(type(v) is int for v in value)):
        return str(list(value) if isinstance(value, tuple) else value)[:80]
    return type(value).__name__


GLOBALS = {("collections", "OrderedDict"): _ordered_dict, ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
           **{("torch", name): _DType(name) for name in DTYPES}}

# the opcodes of plain data (protocols 0 to 5); no INST/OBJ/NEWOBJ, extension codes, sets or buffers
_OPCODES = {op.code.encode("latin-1")[0] for op in __import__("pickletools").opcodes if op.name in {
    "PROTO", "STOP", "FRAME", "MARK", "POP", "POP_MARK", "DUP", "NONE", "NEWTRUE", "NEWFALSE", "INT", "BININT",
    "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT", "STRING", "BINSTRING", "SHORT_BINSTRING",
    "UNICODE", "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8",
    "EMPTY_TUPLE", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3", "EMPTY_LIST", "APPEND", "APPENDS", "LIST", "EMPTY_DICT",
    "DICT", "SETITEM", "SETITEMS", "GLOBAL", "STACK_GLOBAL", "REDUCE", "BUILD", "BINPERSID", "GET", "BINGET",
    "LONG_BINGET", "PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"}}


def _key(key):
    if type(key) is str or (type(key) is int and -limits.MAX_INT <= key <= limits.MAX_INT):
        return key
    raise Unreadable(f"a dict key of type {type(key).__name__} (only text and integers)")


def _target(stack: list) -> dict:
    if not isinstance(stack[-1], dict):
        raise Unreadable(f"items set on a {type(stack[-1]).__name__}")
    return stack[-1]


class _Unpickler(pickle._Unpickler):
    """Python's own unpickler (its memo a dict), with archspec's globals, storages and keys only."""

    dispatch: ClassVar[dict[int, Any]]       # set below the class: the opcodes allowed, four replaced
    stack: list                              # pickle._Unpickler's own, made in load()
    append: Callable
    pop_mark: Callable

    def __init__(self, file, archive: zipfile.ZipFile, records: dict, prefix: str):
        super().__init__(file)
        self.archive, self.records, self.prefix = archive, records, prefix
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str):
        found = GLOBALS.get((module, name))
        if found is None:
            raise Unreadable(f"data.pkl names {module[:60]}.{name[:60]} (a checkpoint holds only tensors and "
                             "plain values)")
        return found

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage" and isinstance(pid[1], _DType)
                and type(pid[2]) is str and type(pid[4]) is int):
            raise Unreadable("a storage reference that is not torch.save's")
        _, kind, key, _, numel = pid
        if key in self.storages:
            return self.storages[key]
        info = self.records.get(f"{self.prefix}/data/{key}")
        itemsize = torch.empty(0, dtype=kind.dtype).element_size()
        if info is None or not 0 <= numel <= limits.MAX_ELEMENTS or info.file_size != numel * itemsize:
            raise Unreadable(f"storage {key[:40]!r} claims {_short(numel)} {kind.name[:-7].lower()} elements; "
                             f"its record holds {info.file_size if info else 0:,} bytes")
        buf = bytearray(info.file_size)
        with self.archive.open(info) as f:
            if f.readinto(buf) != len(buf):     # type: ignore[attr-defined]
                raise Unreadable(f"storage {key[:40]!r} is cut short")
        data = torch.frombuffer(buf, dtype=kind.dtype) if buf else torch.empty(0, dtype=kind.dtype)
        self.storages[key] = _Storage(key, data)
        return self.storages[key]

    def _dict(self) -> None:
        items = self.pop_mark()
        self.append({_key(items[i]): items[i + 1] for i in range(0, len(items), 2)})

    def _setitem(self) -> None:
        value, key = self.stack.pop(), self.stack.pop()
        _target(self.stack)[_key(key)] = value

    def _setitems(self) -> None:
        items = self.pop_mark()
        target = _target(self.stack)
        for i in range(0, len(items), 2):
            target[_key(items[i])] = items[i + 1]

    def _build(self) -> None:
        """Only a state_dict's `_metadata` (module versions), which is dropped: archspec's modules
        load the same without it, and nothing else in a checkpoint has state to set."""
        state = self.stack.pop()
        if type(self.stack[-1]) is not OrderedDict or not isinstance(state, dict):
            raise Unreadable(f"state set on a {type(self.stack[-1]).__name__}")

    def load(self):
        try:
            return super().load()
        except KeyError as e:      # an opcode outside _OPCODES (the dispatch table has no entry)
            code = e.args[0] if e.args and type(e.args[0]) is int and 0 <= e.args[0] < 256 else -1
            raise Unreadable(f"data.pkl uses pickle opcode {bytes([code]) if code >= 0 else '?'!r}, which a "
                             "checkpoint never needs") from None


_Unpickler.dispatch = {**{code: fn for code, fn in pickle._Unpickler.dispatch.items() if code in _OPCODES},
                       pickle.DICT[0]: _Unpickler._dict, pickle.SETITEM[0]: _Unpickler._setitem,
                       pickle.SETITEMS[0]: _Unpickler._setitems, pickle.BUILD[0]: _Unpickler._build}
