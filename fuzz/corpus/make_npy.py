#!/usr/bin/python3
"""Writes the seed corpus for fuzz_npy into corpus/npy/: small valid and invalid .npy files.

Run from anywhere: python3 fuzz/corpus/make_npy.py (numpy from Debian's python3-numpy).
"""
import io
import pathlib

import numpy as np

OUT = pathlib.Path(__file__).resolve().parent / "npy"


def npy(array, version=None):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, version=version, allow_pickle=False)
    return buf.getvalue()


def main():
    OUT.mkdir(exist_ok=True)
    small = np.arange(6, dtype="<f4").reshape(2, 3) - 2.5
    seeds = {
        # Accepted: float32 or float64, C order, format versions 1.0 to 3.0.
        "f4-2x3.npy": npy(small),
        "f8-3x2.npy": npy(small.reshape(3, 2).astype("<f8")),
        "f4-1d.npy": npy(np.array([1.0, -0.0, np.inf], dtype="<f4")),
        "f4-scalar.npy": npy(np.array(np.nan, dtype="<f4")),
        "f4-0x4.npy": npy(np.zeros((0, 4), dtype="<f4")),
        "f4-v2.npy": npy(small, version=(2, 0)),
        "f4-v3.npy": npy(small, version=(3, 0)),
        # Rejected: other dtypes, byte order or layout, and damaged files.
        "i4.npy": npy(np.arange(4, dtype="<i4")),
        "f4-big-endian.npy": npy(small.astype(">f4")),
        "f4-fortran.npy": npy(np.asfortranarray(small)),
        "structured.npy": npy(np.zeros(2, dtype=[("a", "<f4")])),
        "f4-truncated-data.npy": npy(small)[:-5],
        "f4-truncated-header.npy": npy(small)[:40],
        "bad-magic.npy": b"\x93NUMPZ" + npy(small)[6:],
        "version-4.npy": npy(small)[:6] + b"\x04\x00" + npy(small)[8:],
    }
    for name, data in seeds.items():
        (OUT / name).write_bytes(data)


if __name__ == "__main__":
    main()
