#!/usr/bin/env python3
"""Writes the seed corpus under Fuzz/corpus/<target>/: small valid files of each format and a
few near-valid ones (truncated, wrong type, big-endian). Run from anywhere; needs numpy for the
.npy seeds (numpy's own writer is the reference). The files are committed; rerun only to
change them."""
import gzip, json, os, struct, zlib
import numpy as np

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

def put(target, name, data):
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

def gz(data):
    return gzip.compress(data, mtime=0)

# IDX: magic 00 00 <type> <rank>, big-endian dimensions, big-endian elements.
def idx(code, shape, payload):
    return bytes([0, 0, code, len(shape)]) + b"".join(struct.pack(">I", d) for d in shape) + payload

images = idx(0x08, [2, 3, 3], bytes(range(0, 180, 10)))
labels = idx(0x08, [2], bytes([3, 7]))
put("idx", "images-u8", images)
put("idx", "labels-u8", labels)
put("idx", "images-u8.gz", gz(images))
put("idx", "labels-u8.gz", gz(labels))
put("idx", "two-members.gz", gz(labels[:5]) + gz(labels[5:]))
put("idx", "i8", idx(0x09, [3], bytes([0x80, 0, 0x7F])))
put("idx", "i16", idx(0x0B, [2], struct.pack(">hh", -2, 256)))
put("idx", "i32", idx(0x0C, [1, 2], struct.pack(">ii", -7, 1 << 20)))
put("idx", "f32", idx(0x0D, [2], struct.pack(">ff", 1.5, -0.25)))
put("idx", "f64", idx(0x0E, [1], struct.pack(">d", 3.0)))
put("idx", "rank0", idx(0x08, [], bytes([42])))
put("idx", "truncated", images[:-3])
put("idx", "empty-images", idx(0x08, [0, 28, 28], b""))
put("idx", "empty-huge", idx(0x08, [0, 0xFFFFFFFF, 0xFFFFFFFF], b""))

# .npy through numpy itself.
import io
def npy(array, **kw):
    b = io.BytesIO()
    np.save(b, array, **kw)
    return b.getvalue()

put("npy", "f4-2x3", npy(np.arange(6, dtype="<f4").reshape(2, 3)))
put("npy", "f8-fortran", npy(np.asfortranarray(np.arange(6, dtype="<f8").reshape(3, 2))))
put("npy", "u1-vector", npy(np.array([1, 2, 250], dtype="|u1")))
put("npy", "bool", npy(np.array([True, False]))) 
put("npy", "i8-scalar", npy(np.array(-5, dtype="<i8")))
put("npy", "f2-3d", npy(np.ones((2, 1, 2), dtype="<f2")))
put("npy", "i2-empty", npy(np.zeros((0, 4), dtype="<i2")))
zero = b"{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4294967296, 4294967296), }"
zero += b" " * (63 - 10 - len(zero) % 64) + b"\n"
put("npy", "zero-huge", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(zero)) + zero)
put("npy", "f4-bigendian", npy(np.arange(2, dtype=">f4")))
v1 = npy(np.arange(3, dtype="<u4"))
header = v1[10:10 + struct.unpack("<H", v1[8:10])[0]]
put("npy", "u4-version2", b"\x93NUMPY\x02\x00" + struct.pack("<I", len(header)) + header + v1[10 + len(header):])
put("npy", "u4-version3", b"\x93NUMPY\x03\x00" + struct.pack("<I", len(header)) + header + v1[10 + len(header):])
py2 = b"{'descr': '<i4', 'fortran_order': False, 'shape': (2L,), }"
py2 += b" " * (63 - 10 - len(py2)) + b"\n"
put("npy", "python2-long", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(py2)) + py2 + struct.pack("<ii", 1, 2))
put("npy", "structured", npy(np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")])))

# safetensors: u64 header length, JSON header, data section.
def safetensors(tensors, metadata=None):
    header, data = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, (dtype, shape, payload) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(payload)]}
        data += payload
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data

def f32(*values):
    return struct.pack("<%df" % len(values), *values)

put("safetensors", "mixed", safetensors({
    "w": ("F32", [2, 3], f32(1, 2, 3, 4, 5, 6)),
    "b": ("F64", [2], struct.pack("<2d", 0.5, -0.5)),
    "h": ("F16", [2], struct.pack("<2e", 1.0, 2.0)),
    "bf": ("BF16", [1], b"\x80\x3f"),
    "n": ("I64", [], struct.pack("<q", -3)),
    "u": ("U8", [3], bytes([1, 2, 3])),
    "flag": ("BOOL", [2], bytes([1, 0])),
    "empty": ("I32", [0, 5], b""),
}, {"format": "pt"}))
put("safetensors", "implicit-model", safetensors({
    "A": ("F32", [2, 2], f32(0.1, 0.2, -0.1, 0.3)),
    "B": ("F32", [2, 2], f32(1, 0, 0, 1)),
    "C": ("F32", [1, 2], f32(0.5, -0.5)),
    "D": ("F32", [1, 2], f32(0, 1)),
}, {"format": "idl-implicit-model/1", "kappa": "0.95", "activation": "relu", "bias": "false",
    "wellposedness": "inf", "mitr": "50", "tol": "1e-5"}))
put("safetensors", "implicit-model-lowrank", safetensors({
    "L": ("F64", [2, 1], struct.pack("<2d", 0.1, 0.2)),
    "R": ("F64", [2, 1], struct.pack("<2d", 0.3, -0.1)),
    "B": ("F64", [2, 1], struct.pack("<2d", 1, 2)),
    "C": ("F64", [1, 2], struct.pack("<2d", 1, 1)),
}))
put("safetensors", "implicit-rnn", safetensors({
    "recurrent.layer.A": ("F32", [2, 2], f32(0.1, 0, 0, 0.1)),
    "recurrent.layer.B": ("F32", [2, 3], f32(1, 0, 0, 0, 1, 0)),
    "recurrent.layer.C": ("F32", [2, 2], f32(1, 0, 0, 1)),
    "recurrent.layer.D": ("F32", [2, 3], f32(0, 0, 0, 0, 0, 0)),
    "linear.weight": ("F32", [1, 2], f32(1, -1)),
    "linear.bias": ("F32", [1], f32(0.5)),
}))
put("safetensors", "overlapping", safetensors({"a": ("U8", [2], b"ab"), "b": ("U8", [2], b"cd")})
    .replace(b'"data_offsets":[2,4]', b'"data_offsets":[1,3]'))
put("safetensors", "empty", safetensors({}))
put("safetensors", "zero-huge", safetensors({"t": ("F32", [0, 1 << 40, 1 << 40], b"")}))
# Empty tensors with one huge side: a model with no hidden state, an output of 2^40 rows.
put("safetensors", "implicit-model-empty", safetensors({
    "A": ("F32", [0, 0], b""), "B": ("F32", [0, 2], b""), "C": ("F32", [1 << 40, 0], b"")}))
put("safetensors", "implicit-rnn-empty", safetensors({
    "recurrent.layer.A": ("F32", [0, 0], b""), "recurrent.layer.B": ("F32", [0, 1 << 40], b""),
    "recurrent.layer.C": ("F32", [0, 0], b""), "linear.weight": ("F32", [1 << 40, 0], b"")}))

# CIFAR: label byte(s) then 3072 pixel bytes per record.
pixels = bytes((i * 7) % 256 for i in range(3072))
put("cifar", "cifar10-record", bytes([3]) + pixels)
put("cifar", "cifar100-record", bytes([4, 42]) + pixels)
put("cifar", "cifar10-two.gz", gz(bytes([1]) + pixels + bytes([9]) + pixels[::-1]))
put("cifar", "cifar10-truncated", bytes([3]) + pixels[:100])

# PNG: signature, IHDR, optional PLTE/tRNS, IDAT (zlib of filtered rows), IEND.
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

def png(width, height, depth, color, rows, extra=b"", filters=None):
    raw = b"".join(bytes([filters[i] if filters else 0]) + row for i, row in enumerate(rows))
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))

put("png", "gray8", png(3, 2, 8, 0, [bytes([0, 128, 255]), bytes([10, 20, 30])]))
put("png", "rgb8-filters", png(2, 3, 8, 2, [bytes(range(6)), bytes(range(6, 12)), bytes(range(12, 18))], filters=[1, 2, 4]))
put("png", "rgba8", png(2, 1, 8, 6, [bytes([255, 0, 0, 255, 0, 255, 0, 128])]))
put("png", "gray-alpha8", png(1, 2, 8, 4, [bytes([7, 8]), bytes([9, 10])]))
put("png", "palette-trns", png(4, 1, 2, 3, [bytes([0b00011011])],
    extra=chunk(b"PLTE", bytes([255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9])) + chunk(b"tRNS", bytes([0, 128]))))
put("png", "gray1", png(9, 1, 1, 0, [bytes([0b10101010, 0b10000000])]))
put("png", "rgb16", png(1, 1, 16, 2, [bytes([1, 2, 3, 4, 5, 6])]))
put("png", "text-chunk", png(1, 1, 8, 0, [bytes([5])], extra=chunk(b"tEXt", b"Title\x00fuzz seed")))
