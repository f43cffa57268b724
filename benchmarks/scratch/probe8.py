import mall, torch, time, os, torch.nn.functional as F
from probe2 import polyphase3
CL=torch.channels_last
def cl(t): return t.contiguous(memory_format=CL)
def bench(fns, rounds=4, warm=1):
    res = {k: [] for k in fns}
    for k,f in fns.items():
        for _ in range(warm): f()
    for _ in range(rounds):
        for k,f in fns.items():
            c0=os.times(); t=time.perf_counter(); f(); dt=time.perf_counter()-t; c1=os.times()
            res[k].append((dt, (c1.user+c1.system-c0.user-c0.system)/dt/2))
    return {k: min(v) for k,v in res.items()}
torch.manual_seed(0)
with torch.inference_mode():
  for (cin,cout,H) in [(64,32,512),(128,64,256),(512,512,32)]:
    x = torch.randn(1,cin,H,H); W = torch.randn(cout,cin,3,3)*0.05
    Wt = W.transpose(0,1).contiguous()
    xc, Wtc = cl(x), cl(Wt)
    K2 = torch.randn(4*cout,cin,2,2); K2c = cl(K2)
    K3c = cl(polyphase3(W))
    ks = [cl(torch.randn(cout,cin,a,b)) for a,b in [(2,2),(2,1),(1,2),(1,1)]]
    def D():
        return [F.conv2d(xc, ks[0], padding=1), F.conv2d(xc, ks[1], padding=(1,0)), F.conv2d(xc, ks[2], padding=(0,1)), F.conv2d(xc, ks[3])]
    fns = {'convT_nchw': lambda: F.conv_transpose2d(x, Wt, stride=2),
           'convT_nhwc': lambda: F.conv_transpose2d(xc, Wtc, stride=2),
           'C_2x2x4_nhwc': lambda: F.conv2d(xc, K2c, padding=1),
           'C_2x2x4_nchw': lambda: F.conv2d(x, K2, padding=1),
           'D_4convs_nhwc': D,
           'B_3x3x4_nhwc': lambda: F.conv2d(xc, K3c, padding=1)}
    r = bench(fns)
    fl = 2*9*cin*cout*H*H
    for k,(t,u) in r.items(): print(f'{cin}->{cout} {H}->{2*H} {k}: {t*1e3:.1f} ms ({fl/t/1e9:.0f} eff GF/s of 9-tap work) util {u:.2f}', flush=True)
