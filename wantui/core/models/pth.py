"""Read tensor names, dtypes and shapes from a ``torch.save`` zip without torch.

A ``.pth`` written by ``torch.save`` (PyTorch >= 1.6) is a zip: ``<name>/data.pkl`` holds
the pickled state dict, and each storage is a separate entry ``<name>/data/<key>``. We
unpickle ``data.pkl`` with an unpickler whose ``find_class`` never imports anything: it
returns inert placeholders, and the few torch rebuild functions a state dict uses are
replaced by functions that record dtype and shape. Tensor data is never read; the storage
entries' sizes (from the zip's central directory) are checked against what the tensors
need, which catches truncated or damaged files.
"""

from __future__ import annotations

import collections
import pickle
import pickletools
import re
import zipfile
import zlib
from pathlib import Path
from typing import Any

from wantui.core.models.headers import CorruptFile, Header, NotAModelFile, TensorMeta

# data.pkl of a 1300-tensor state dict is ~200 kB; anything huge is not a state dict (and
# the cap bounds what a hostile pickle can build: a list of at most a few million refs).
MAX_PICKLE_BYTES = 16 * 1024 * 1024
# the C unpickler sizes its memo table to twice the largest index put: 16 MB at most
MAX_MEMO = 1 << 20
# how deep to look for the state dict inside wrapper dicts ({"state_dict": {"model": ...}})
MAX_NESTING = 4

# torch storage class name / torch dtype name -> (safetensors dtype name, bytes per element)
_STORAGE_DTYPES: dict[str, tuple[str, int]] = {
    "DoubleStorage": ("F64", 8),
    "FloatStorage": ("F32", 4),
    "HalfStorage": ("F16", 2),
    "BFloat16Storage": ("BF16", 2),
    "LongStorage": ("I64", 8),
    "IntStorage": ("I32", 4),
    "ShortStorage": ("I16", 2),
    "CharStorage": ("I8", 1),
    "ByteStorage": ("U8", 1),
    "BoolStorage": ("BOOL", 1),
}
_TORCH_DTYPES: dict[str, tuple[str, int]] = {
    "float64": ("F64", 8),
    "float32": ("F32", 4),
    "float16": ("F16", 2),
    "bfloat16": ("BF16", 2),
    "float8_e4m3fn": ("F8_E4M3", 1),
    "float8_e5m2": ("F8_E5M2", 1),
    "int64": ("I64", 8),
    "int32": ("I32", 4),
    "int16": ("I16", 2),
    "int8": ("I8", 1),
    "uint8": ("U8", 1),
    "bool": ("BOOL", 1),
}


class _Opaque:
    """Stand-in for any class or function the pickle names: accepts anything, does nothing."""

    _qualname = "?"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass

    def __repr__(self) -> str:
        return f"<opaque {self._qualname}>"


def _opaque_class(module: str, name: str) -> type:
    return type(f"Opaque_{name}", (_Opaque,), {"_qualname": f"{module}.{name}"})


class _StorageType:
    def __init__(self, name: str, dtype: tuple[str, int] | None) -> None:
        self.name = name
        self.dtype = dtype


class _DType:
    def __init__(self, name: str) -> None:
        self.name = name
        self.dtype = _TORCH_DTYPES.get(name)


class _StorageRef:
    """A storage record from the pickle: zip entry key, element type, size."""

    def __init__(self, key: str, dtype: tuple[str, int] | None, numel: int) -> None:
        self.key = key
        self.dtype = dtype
        self.numel = numel  # elements (typed storage) or bytes (untyped storage)


class _Tensor:
    def __init__(self, storage: Any, offset: Any, size: Any, dtype: tuple[str, int] | None) -> None:
        self.storage = storage if isinstance(storage, _StorageRef) else None
        self.offset = offset if isinstance(offset, int) else 0
        self.shape = tuple(int(d) for d in size) if isinstance(size, (tuple, list)) else ()
        self.dtype = dtype


def _rebuild_tensor_v2(storage: Any, offset: Any, size: Any, *_rest: Any) -> _Tensor:
    dtype = storage.dtype if isinstance(storage, _StorageRef) else None
    return _Tensor(storage, offset, size, dtype)


def _rebuild_tensor_v3(
    storage: Any, offset: Any, size: Any, stride: Any, rg: Any, hooks: Any, dtype: Any, *_: Any
) -> _Tensor:  # noqa: E501
    dt = dtype.dtype if isinstance(dtype, _DType) else None
    return _Tensor(storage, offset, size, dt)


def _rebuild_parameter(data: Any, *_rest: Any) -> Any:
    return data


# what a damaged zip can raise besides BadZipFile (an unknown compression method, an
# encrypted entry, a bad deflate stream); OSError (permission denied) is left to the caller
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    EOFError,
    ValueError,
    NotImplementedError,
    RuntimeError,
    zlib.error,
)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:160] + ("..." if len(text) > 160 else "")


def _fresh(fn: Any) -> Any:
    def call(*args: Any) -> Any:
        return fn(*args)

    return call


class _SafeUnpickler(pickle.Unpickler):
    """Never imports: every global is a placeholder or one of our record builders."""

    def find_class(self, module: str, name: str) -> Any:
        # fresh objects on every call: BUILD can set attributes on what we return, and a
        # hostile pickle must not be able to alter anything shared (our module's functions)
        if module == "collections" and name == "OrderedDict":
            return type("OrderedDict", (collections.OrderedDict,), {})
        if module == "torch._utils":
            if name == "_rebuild_tensor_v2":
                return _fresh(_rebuild_tensor_v2)
            if name == "_rebuild_tensor_v3":
                return _fresh(_rebuild_tensor_v3)
            if name in ("_rebuild_parameter", "_rebuild_parameter_with_state"):
                return _fresh(_rebuild_parameter)
        if module == "torch" and name.endswith("Storage"):
            return _StorageType(name, _STORAGE_DTYPES.get(name))
        if module == "torch.storage" and name in ("UntypedStorage", "_UntypedStorage"):
            return _StorageType(name, ("U8", 1))
        if module == "torch" and name in _TORCH_DTYPES:
            return _DType(name)
        return _opaque_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        if isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage":
            stype = pid[1]
            dtype = stype.dtype if isinstance(stype, _StorageType) else None
            numel = pid[4] if isinstance(pid[4], int) else 0
            return _StorageRef(str(pid[2]), dtype, numel)
        raise pickle.UnpicklingError(f"unsupported persistent id {pid!r:.80}")


_WRAPPER_KEYS = ("state_dict", "model", "module", "params", "ema", "model_state_dict", "net")


def _find_state_dict(obj: Any) -> tuple[dict[str, Any], str] | None:
    """The flat name -> tensor dict and where it sits ("" = top level, "state_dict/model"),
    searched breadth-first through wrapper dicts (common wrapper keys first); iterative and
    bounded, so a pickle of 100 000 nested dicts costs nothing."""
    queue: list[tuple[Any, str, int]] = [(obj, "", 0)]
    seen: set[int] = set()
    while queue:
        cur, path, depth = queue.pop(0)
        if not isinstance(cur, dict) or id(cur) in seen:
            continue
        seen.add(id(cur))
        if any(isinstance(v, _Tensor) for v in cur.values()):
            return cur, path
        if depth >= MAX_NESTING:
            continue
        keys = [k for k in _WRAPPER_KEYS if k in cur]
        keys += [k for k in cur if k not in _WRAPPER_KEYS and isinstance(cur[k], dict)][:20]
        for k in keys:
            queue.append((cur[k], f"{path}/{k}" if path else str(k), depth + 1))
    return None


def _op_table() -> list[int | None]:
    """For each opcode byte, how its argument is laid out: n >= 0 fixed bytes, -1 one
    line, -2 two lines, -3/-4/-5 a 1/4/8-byte length then that many bytes; None unknown."""
    table: list[int | None] = [None] * 256
    for op in pickletools.opcodes:
        arg = op.arg
        if arg is None:
            kind = 0
        elif arg.name == "stringnl_noescape_pair":
            kind = -2
        elif arg.n == pickletools.UP_TO_NEWLINE:
            kind = -1
        elif arg.n == pickletools.TAKEN_FROM_ARGUMENT1:
            kind = -3
        elif arg.n in (pickletools.TAKEN_FROM_ARGUMENT4, pickletools.TAKEN_FROM_ARGUMENT4U):
            kind = -4
        elif arg.n == pickletools.TAKEN_FROM_ARGUMENT8U:
            kind = -5
        else:
            kind = arg.n
        table[ord(op.code.encode("latin-1"))] = kind
    table[ord("\x95")] = 8  # FRAME: its length is checked below, its content is opcodes
    return table


_OPS = _op_table()
_LEN_BYTES = {-3: 1, -4: 4, -5: 8}
_STOP, _FRAME, _PUT, _LONG_BINPUT = ord("."), 0x95, ord("p"), ord("r")


def _simple_run() -> re.Pattern[bytes]:
    """A run of ordinary fixed-size opcodes, skipped in C: the Python loop only sees the
    opcodes with something to check. The run is capped at 4096 opcodes per call so the
    backtracking state sre keeps per repetition stays small (possessive ``*+``, which keeps
    none, is Python 3.11+); the walk simply calls again after the cap."""
    by_len: dict[int, list[int]] = {}
    for c, k in enumerate(_OPS):
        if k is not None and k >= 0 and c not in (_STOP, _FRAME, _LONG_BINPUT):
            by_len.setdefault(k, []).append(c)
    alts = [
        b"[" + b"".join(re.escape(bytes([c])) for c in codes) + b"]" + (b".{%d}" % k if k else b"")
        for k, codes in sorted(by_len.items())
    ]
    return re.compile(b"(?:" + b"|".join(alts) + b"){0,4096}", re.S)


_SIMPLE_RUN = _simple_run()


def _check_allocations(raw: bytes) -> None:
    """Refuse a pickle that would make the C unpickler allocate far more than its size
    before failing: a memo index of 50 million grows its memo table to 800 MB (a 141-byte
    file did), a BINBYTES8 or FRAME length of 800 MB is allocated before it is read. A
    walk over the opcodes checks every length against what is left and every memo index
    against the number of opcodes so far (a pickler numbers them 0, 1, 2...), bounded
    by the bytes read so far. Runs of ordinary opcodes are skipped by one regex call
    (pickletools.genops took 10 s on a 16 MB pickle; this takes about 1 s)."""
    i, end = 0, len(raw)
    table, simple = _OPS, _SIMPLE_RUN.match
    while True:
        i = simple(raw, i).end()  # type: ignore[union-attr] - the pattern matches ""
        if i >= end:
            break
        op = raw[i]
        # every opcode is at least one byte: i bounds how many came before; a state dict
        # of thousands of tensors memoizes thousands of objects, never a million
        ops = min(i + 1, MAX_MEMO)
        kind = table[op]
        i += 1
        if kind is None:
            raise CorruptFile(f"data.pkl is not a readable pickle (unknown opcode {op:#x})")
        if op == _STOP:
            return
        if op == _LONG_BINPUT:
            if int.from_bytes(raw[i : i + 4], "little") > ops:
                raise CorruptFile(f"data.pkl puts memo entry {raw[i : i + 4].hex()} early")
            i += 4
        elif op == _FRAME:
            if int.from_bytes(raw[i : i + 8], "little") > end - i - 8:
                raise CorruptFile("data.pkl declares a frame longer than the file")
            i += 8
        elif kind < -2:
            width = _LEN_BYTES[kind]
            size = int.from_bytes(raw[i : i + width], "little", signed=kind == -4)
            i += width
            if not 0 <= size <= end - i:
                raise CorruptFile(f"data.pkl declares {size} bytes where {end - i} are left")
            i += size
        elif kind < 0:
            for _ in range(-kind):
                j = raw.find(b"\n", i)
                if j < 0:
                    raise CorruptFile("data.pkl is not a readable pickle (a line never ends)")
                arg = raw[i:j]
                if op == _PUT and not (arg.isdigit() and len(arg) < 12 and int(arg) <= ops):
                    raise CorruptFile("data.pkl puts a memo entry early")
                i = j + 1
        else:  # an ordinary fixed-size opcode where the run above stopped at its cap
            i += kind
    if i > end:
        raise CorruptFile("data.pkl is not a readable pickle (truncated)")


def read_pth_header(path: str | Path) -> Header:
    """Parse a torch zip checkpoint's pickle into a Header; raise CorruptFile/NotAModelFile."""
    p = Path(path)
    size = p.stat().st_size
    try:
        zf = zipfile.ZipFile(p)
    except _ZIP_ERRORS as exc:
        raise CorruptFile(f"damaged or truncated zip ({_one_line(exc)})") from None
    with zf:
        infos = {i.filename: i for i in zf.infolist()}
        pkl_names = [n for n in infos if n.endswith("/data.pkl") or n == "data.pkl"]
        if not pkl_names:
            raise NotAModelFile("a zip file, but not a torch.save checkpoint (no data.pkl)")
        pkl_name = pkl_names[0]
        prefix = pkl_name[: -len("data.pkl")]
        if infos[pkl_name].file_size > MAX_PICKLE_BYTES:
            raise CorruptFile(f"data.pkl is {infos[pkl_name].file_size} bytes; not a state dict")
        for info in infos.values():
            # a local entry past the end of the file means the data was cut off
            if info.header_offset + info.compress_size > size:
                raise CorruptFile(
                    f"truncated: zip entry {info.filename} ends beyond the file's {size} bytes"
                )
        try:
            raw = zf.read(pkl_name)
        except (*_ZIP_ERRORS, OSError) as exc:
            raise CorruptFile(f"cannot read data.pkl ({_one_line(exc)})") from None
    _check_allocations(raw)
    try:
        import io

        obj = _SafeUnpickler(io.BytesIO(raw)).load()
    except RecursionError:
        raise CorruptFile("data.pkl nests too deeply") from None
    except Exception as exc:  # any malformed pickle: report, never crash
        raise CorruptFile(
            f"data.pkl is not a readable pickle ({type(exc).__name__}: {_one_line(exc)})"
        ) from None
    try:
        found = _find_state_dict(obj)
    except Exception as exc:  # a hostile pickle's objects misbehaving in comparisons
        raise CorruptFile(f"data.pkl holds unexpected objects ({type(exc).__name__})") from None
    if found is None:
        raise NotAModelFile("a torch checkpoint without a tensor state dict")
    sd, nested = found
    tensors: dict[str, TensorMeta] = {}
    data_bytes = 0
    seen: set[str] = set()
    for name, t in sd.items():
        if not isinstance(t, _Tensor):
            continue
        dtype_name = t.dtype[0] if t.dtype else "UNKNOWN"
        meta = TensorMeta(dtype_name, t.shape)
        tensors[str(name)] = meta
        st = t.storage
        if st is None:
            continue
        entry = infos.get(f"{prefix}data/{st.key}")
        if entry is None:
            raise CorruptFile(f"tensor {name!r}: storage data/{st.key} is missing from the zip")
        itemsize = st.dtype[1] if st.dtype else 1
        need = st.numel * itemsize
        if entry.file_size < need:
            raise CorruptFile(
                f"tensor {name!r}: storage data/{st.key} holds {entry.file_size} bytes,"
                f" {need} declared"
            )
        if st.key not in seen:
            seen.add(st.key)
            data_bytes += entry.file_size
    header = Header("pth", tensors, {}, size, data_bytes)
    header.nested = nested
    return header
