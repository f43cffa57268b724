"""How much memory the machine has free, to refuse work that could not fit before allocating it."""

from __future__ import annotations

import os


def available_bytes() -> int | None:
    """Bytes the system can give this process now, or None when unknown: the machine's free memory
    (Linux ``MemAvailable``), or less when the process runs under an address-space limit
    (``ulimit -v``, a sandbox, a container tool)."""
    free = _machine_available()
    headroom = _limit_headroom()
    if headroom is None:
        return free
    return headroom if free is None else min(free, headroom)


def _limit_headroom() -> int | None:
    """Bytes left under this process's address-space limit (RLIMIT_AS), or None when there is none."""
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
        if limit == resource.RLIM_INFINITY:
            return None
        with open("/proc/self/status", encoding="ascii") as f:
            used = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
        return max(0, limit - used)
    except (ImportError, OSError, ValueError, IndexError, StopIteration):
        return None


def _machine_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def human(n: float) -> str:
    """``3.2 GB``, ``640 MB``."""
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:.0f} MB"
