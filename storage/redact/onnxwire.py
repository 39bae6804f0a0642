"""The CenterFace model's fixed sizes made free, on the ONNX file's protobuf wire format itself
(design/0230): no `onnx` package (31 MB installed, with its own protobuf schema) for one edit.

An ONNX file is a protobuf ModelProto. Only these fields are read, by number, as onnx.proto
defines them: ModelProto.graph (7); GraphProto.initializer (5), .input (11), .output (12);
TensorProto.name (8); ValueInfoProto.name (1), .type (2); TypeProto.tensor_type (1);
TypeProto.Tensor.shape (2); TensorShapeProto.dim (1); Dimension.dim_value (1), .dim_param (2).
Every other field is copied byte for byte, in its order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

Field = tuple[int, int, bytes]  # number, wire type, the field's value as written (a varint's bytes, or a payload)


class WireError(ValueError):
    """The bytes are not the protobuf message expected."""


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data):
            raise WireError("a varint runs past the end")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7


def _put_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def fields(data: bytes) -> Iterator[Field]:
    """The message's fields in order: (number, wire type, value bytes)."""
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, end = _varint(data, at)
            value, at = data[at:end], end
        elif wire == 1:
            value, at = data[at:at + 8], at + 8
        elif wire == 5:
            value, at = data[at:at + 4], at + 4
        elif wire == 2:
            size, at = _varint(data, at)
            value, at = data[at:at + size], at + size
        else:
            raise WireError(f"wire type {wire} (field {number}) is not read here")
        if at > len(data):
            raise WireError(f"field {number} runs past the end")
        yield number, wire, value


def encode(items: list[Field]) -> bytes:
    out = bytearray()
    for number, wire, value in items:
        out += _put_varint(number << 3 | wire)
        if wire == 2:
            out += _put_varint(len(value))
        out += value
    return bytes(out)


def _edit(data: bytes, number: int, change: Callable[[bytes], bytes]) -> bytes:
    """The message with every length-delimited field `number` passed through `change`."""
    return encode([(n, w, change(v) if n == number and w == 2 else v) for n, w, v in fields(data)])


def _string(data: bytes, number: int) -> str:
    for n, w, v in fields(data):
        if n == number and w == 2:
            return v.decode()
    return ""


def _free_dims(value_info: bytes, names: dict[int, str]) -> bytes:
    """A ValueInfoProto whose tensor dimensions at the indices of `names` become those names."""
    def shape(data: bytes) -> bytes:
        out: list[Field] = []
        index = 0
        for n, w, v in fields(data):
            if n == 1 and w == 2:
                if index in names:
                    v = encode([(2, 2, names[index].encode())])
                index += 1
            out.append((n, w, v))
        return encode(out)

    return _edit(value_info, 2, lambda t: _edit(t, 1, lambda tensor: _edit(tensor, 2, shape)))


def dims(value_info: bytes) -> list[int | str]:
    """A ValueInfoProto's tensor dimensions: numbers, or the names of free ones."""
    out: list[int | str] = []
    for t in (v for n, w, v in fields(value_info) if n == 2 and w == 2):
        for tensor in (v for n, w, v in fields(t) if n == 1 and w == 2):
            for shape in (v for n, w, v in fields(tensor) if n == 2 and w == 2):
                for dim in (v for n, w, v in fields(shape) if n == 1 and w == 2):
                    for n, w, v in fields(dim):
                        out.append(_varint(v, 0)[0] if n == 1 and w == 0 else v.decode())
    return out


def free_sizes(model: bytes, picture_input: str) -> bytes:
    """The model with its batch and picture sizes free: on `picture_input` B, H, W; on every other
    input and output B, h, w. Weights listed as inputs are no longer listed (so onnxruntime folds
    them as constants)."""
    def graph(data: bytes) -> bytes:
        items = list(fields(data))
        weights = {_string(v, 8) for n, w, v in items if n == 5 and w == 2}
        out: list[Field] = []
        for n, w, v in items:
            if n in (11, 12) and w == 2:
                name = _string(v, 1)
                if n == 11 and name in weights:
                    continue
                big = name == picture_input
                v = _free_dims(v, {0: "B", 2: "H" if big else "h", 3: "W" if big else "w"})
            out.append((n, w, v))
        return encode(out)

    return _edit(model, 7, graph)
