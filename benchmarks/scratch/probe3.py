import mall
import torch, time, torch.nn.functional as F, sys
from probe2 import bench, blur_k, ref_up, polyphase3
CL = torch.channels_last
def cl(t): return t.contiguous(memory_format=CL)
def blur_dw(y0, C):
    return F.conv2d(F.pad(y0,[1,1,1,1]), blur_k(C), groups=C)
def blur_sep(y0, C):
    g = torch.tensor([1.,3.,3.,1.])/4
    y = F.conv2d(F.pad(y0,[0,0,1,1]), g.view(1,1,4,1).expand(C,1,4,1).contiguous(), groups=C)
    return F.conv2d(F.pad(y,[1,1,0,0]), g.view(1,1,1,4).expand(C,1,1,4).contiguous(), groups=C)
def blur_slice(y0):
    # separable via slicing; y0 [N,C,M,M], M=2H+1 -> out 2H
    M = y0.shape[-1]; n = M-1
    z = F.pad(y0, [0,0,1,1])
    r = z[:,:,0:n] + z[:,:,3:n+3]
    r.add_(z[:,:,1:n+1] + z[:,:,2:n+2], alpha=3)
    z = F.pad(r, [1,1,0,0])
    o = z[...,0:n] + z[...,3:n+3]
    o.add_(z[...,1:n+1] + z[...,2:n+2], alpha=3)
    return o.mul_(1/16)
with torch.inference_mode():
  for (cin,cout,H,N) in [(64,32,512,1),(128,64,256,1),(512,512,32,1)]:
    x = torch.randn(N,cin,H,H); W = torch.randn(cout,cin,3,3)*0.05
    Wt = W.transpose(0,1).contiguous()
    K = polyphase3(W)
    ref = ref_up(x.double(), W.double()).float()
    print(f"== up {cin}->{cout} {H}->{2*H} N{N}", flush=True)
    for mf in ['contig','cl']:
        xx = cl(x) if mf=='cl' else x
        WW = cl(Wt) if mf=='cl' else Wt
        KK = cl(K) if mf=='cl' else K
        y0 = F.conv_transpose2d(xx, WW, stride=2)
        t_ct = bench(lambda: F.conv_transpose2d(xx, WW, stride=2))
        t_dw = bench(lambda: blur_dw(y0, cout)); t_sep = bench(lambda: blur_sep(y0,cout)); t_sl = bench(lambda: blur_slice(y0))
        e1 = (blur_dw(y0,cout)-ref).abs().max().item(); e2=(blur_sep(y0,cout)-ref).abs().max().item(); e3=(blur_slice(y0)-ref).abs().max().item()
        t_b = bench(lambda: F.pixel_shuffle(F.conv2d(xx, KK, padding=1), 2))
        t_bc = bench(lambda: F.conv2d(xx, KK, padding=1))
        eb = (F.pixel_shuffle(F.conv2d(xx, KK, padding=1), 2)-ref).abs().max().item()
        print(f" {mf}: convT {t_ct*1e3:.1f}ms | blur dw {t_dw*1e3:.1f} sep {t_sep*1e3:.1f} slice {t_sl*1e3:.1f} | B conv {t_bc*1e3:.1f} +shuffle {t_b*1e3:.1f} | err {e1:.1e} {e2:.1e} {e3:.1e} {eb:.1e} refmax {ref.abs().max():.1f}", flush=True)
