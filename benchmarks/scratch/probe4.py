import torch, time, torch.nn.functional as F
from probe2 import bench
with torch.inference_mode():
    x = torch.randn(1,32,1024,1024); y = torch.empty_like(x)
    nb = x.numel()*4
    t = bench(lambda: y.copy_(x), n=5); print(f'copy {t*1e3:.1f} ms  {2*nb/t/1e9:.1f} GB/s')
    t = bench(lambda: x.add_(1.0), n=5); print(f'add_ scalar {t*1e3:.1f} ms  {2*nb/t/1e9:.1f} GB/s')
    t = bench(lambda: torch.add(x, 1.0, out=y), n=5); print(f'add out {t*1e3:.1f} ms')
    t = bench(lambda: x+1.0, n=5); print(f'add alloc {t*1e3:.1f} ms')
    t = bench(lambda: F.leaky_relu_(x,0.2), n=5); print(f'lrelu_ {t*1e3:.1f} ms')
    t = bench(lambda: x.clamp_(-256,256), n=5); print(f'clamp_ {t*1e3:.1f} ms')
    n = torch.randn(1,1,1024,1024)
    t = bench(lambda: x.add_(n), n=5); print(f'add_ noise bcast NCHW {t*1e3:.1f} ms')
    xc = x.contiguous(memory_format=torch.channels_last)
    t = bench(lambda: xc.add_(n), n=5); print(f'add_ noise bcast NHWC {t*1e3:.1f} ms')
    b = torch.randn(1,32,1,1)
    t = bench(lambda: x.add_(b), n=5); print(f'add_ bias NCHW {t*1e3:.1f} ms')
    t = bench(lambda: xc.add_(b), n=5); print(f'add_ bias NHWC {t*1e3:.1f} ms')
    print(torch.get_num_threads())
