import ctypes
libc = ctypes.CDLL("libc.so.6")
assert libc.mallopt(-4, 0) == 1 and libc.mallopt(-1, 2**30) == 1
