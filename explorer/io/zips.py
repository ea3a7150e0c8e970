"""Zip entries we are willing to read: stored or deflated, sizes that add up, and no decompression bomb.

torch.save archives, .npz files and training-set zips are all zip files a user hands us. Python's
zipfile never returns more than an entry's declared size, so checking the declared size against the
compressed one (before reading) bounds what any entry can cost.
"""
from __future__ import annotations

import zipfile
from typing import Optional

MAX_INFLATION = 20           # deflated weights or photos shrink by 10% to 3x; a zip bomb shrinks a thousandfold
INFLATION_SLACK = 1 << 20    # small entries (an all-zero buffer, a flat image) may compress better than that


def entry_problem(info: zipfile.ZipInfo) -> Optional[str]:
    """Why reading this entry could be hostile or is impossible, or None if it is safe to read."""
    name = info.filename[:80]
    if info.compress_type == zipfile.ZIP_STORED:
        if info.compress_size != info.file_size:
            return f"entry {name} is stored, yet declares {info.file_size} bytes in {info.compress_size}"
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        if info.file_size > MAX_INFLATION * info.compress_size + INFLATION_SLACK:
            return (f"entry {name} would inflate {info.compress_size} bytes to {info.file_size} "
                    f"(a decompression bomb, not data)")
    else:
        return f"entry {name} uses zip compression method {info.compress_type} (only stored and deflated are read)"
    if info.flag_bits & 0x1:
        return f"entry {name} is encrypted"
    return None
