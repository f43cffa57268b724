import mall, torch, time, torch.nn.functional as F
from probe2 import bench
CL=torch.channels_last
mk = torch.ops.mkldnn
torch.manual_seed(0)
with torch.inference_mode():
  for (cin,cout,H) in [(32,32,1024),(64,64,512),(512,512,64)]:
    x = torch.randn(1,cin,H,H).contiguous(memory_format=CL); W = (torch.randn(cout,cin,3,3)*0.05).contiguous(memory_format=CL)
    b = torch.randn(cout); nz = torch.randn(1,1,H,H)
    def base():
        y = F.conv2d(x, W, b, padding=1); y.add_(nz); F.leaky_relu_(y, 0.2); return y
    def convonly(): return F.conv2d(x, W, b, padding=1)
    def pw_unary(): return mk._convolution_pointwise(x, W, b, [1,1],[1,1],[1,1],1,"leaky_relu",[0.2],"")
    other = torch.empty(1,cout,H,H).contiguous(memory_format=CL)
    def pw_sum():
        other.copy_(nz.expand(1,cout,H,H))
        return mk._convolution_pointwise_.binary(other, x, W, b, [1,1],[1,1],[1,1],1,"sum",1.0,"leaky_relu",[0.2],"")
    nzfull = nz.expand(1,cout,H,H).contiguous(memory_format=CL)
    def pw_add_full():
        return mk._convolution_pointwise.binary(x, nzfull, W, b, [1,1],[1,1],[1,1],1,"add",1.0,"leaky_relu",[0.2],"")
    r = base()
    for name, fn in [('base',base),('convonly',convonly),('pw_unary',pw_unary),('pw_sum',pw_sum),('pw_add_full',pw_add_full)]:
        try:
            out = fn(); err = (out-r).abs().max().item() if name not in ('convonly','pw_unary') else float('nan')
            t = bench(fn, n=5)
            print(f'{cin}->{cout}@{H} {name}: {t*1e3:.1f} ms err {err:.1e} cl_out={out.is_contiguous(memory_format=CL)}', flush=True)
        except Exception as e: print(name, 'FAIL', str(e)[:200])
    try:
        o = mk._convolution_pointwise.binary(x, nz, W, b, [1,1],[1,1],[1,1],1,"add",1.0,"leaky_relu",[0.2],"")
        print('bcast add ok', (o-r).abs().max().item())
    except Exception as e: print('bcast add FAIL', str(e)[:300])
