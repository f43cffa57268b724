import torch, time, torch.nn.functional as F
torch.manual_seed(0)
def bench(fn, n=5, warm=2):
    for _ in range(warm): fn()
    ts=[]
    for _ in range(n):
        t=time.perf_counter(); fn(); ts.append(time.perf_counter()-t)
    ts.sort(); return ts[len(ts)//2]
print(torch.get_num_threads(), torch.backends.mkldnn.enabled)
with torch.inference_mode():
  for (cin,cout,H,N) in [(512,512,64,1),(64,32,1024,1),(32,32,1024,1),(128,64,512,1),(64,64,512,1),(512,512,64,8),(64,64,512,8)]:
    x=torch.randn(N,cin,H,H); w=torch.randn(cout,cin,3,3)
    fl=2*9*cin*cout*H*H*N
    for cl in [False,True]:
        xx = x.contiguous(memory_format=torch.channels_last) if cl else x
        ww = w.contiguous(memory_format=torch.channels_last) if cl else w
        t=bench(lambda: F.conv2d(xx,ww,padding=1), n=3, warm=1)
        print(f"conv {cin}->{cout} H{H} N{N} cl={cl}: {t*1e3:.1f} ms  {fl/t/1e9:.0f} GF/s", flush=True)
