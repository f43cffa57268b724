import mall, torch, time, os, torch.nn.functional as F
from probe8 import bench, cl
torch.manual_seed(0)
print(torch.backends.nnpack.is_available() if hasattr(torch.backends,'nnpack') else 'n/a')
with torch.inference_mode():
  for (cin,cout,H) in [(512,512,32),(512,512,64),(256,256,64),(64,64,256),(32,32,512)]:
    x = torch.randn(1,cin,H,H); W = torch.randn(cout,cin,3,3)/ (cin*9)**.5; b=torch.zeros(cout)
    ref = F.conv2d(x.double(), W.double(), padding=1)
    o = torch._nnpack_spatial_convolution(x, W, b, [1,1])
    err = ((o.double()-ref).abs().max()/ref.abs().max()).item()
    xc, Wc = cl(x), cl(W)
    o2 = F.conv2d(xc, Wc, padding=1); err2 = ((o2.double()-ref).abs().max()/ref.abs().max()).item()
    r = bench({'nnpack': lambda: torch._nnpack_spatial_convolution(x, W, b, [1,1]), 'mkldnn_nhwc': lambda: F.conv2d(xc, Wc, padding=1)}, rounds=3)
    fl = 2*9*cin*cout*H*H
    for k,(t,u) in r.items(): print(f'{cin}->{cout}@{H} {k}: {t*1e3:.1f} ms {fl/t/1e9:.0f} GF/s util {u:.2f}', flush=True)
    print('  rel err nnpack', err, 'mkldnn', err2)
