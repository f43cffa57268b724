import torch, time, torch.nn.functional as F, sys
torch.manual_seed(0)
def bench(fn, n=3, warm=1):
    for _ in range(warm): fn()
    ts=[]
    for _ in range(n):
        t=time.perf_counter(); fn(); ts.append(time.perf_counter()-t)
    ts.sort(); return ts[0]
f1 = torch.tensor([1.,3.,3.,1.])
def blur_k(C, dtype=torch.float32):
    k = torch.outer(f1,f1)/64*4
    return k.to(dtype).expand(C,1,4,4).contiguous()
def ref_up(x, W):
    y0 = F.conv_transpose2d(x, W.transpose(0,1), stride=2)
    y0 = F.pad(y0, [1,1,1,1])
    C = W.shape[0]
    return F.conv2d(y0, blur_k(C, x.dtype), groups=C)
def polyphase3(W, f=f1):
    # returns [4*Cout, Cin, 3, 3] conv2d weight (padding=1) + pixel_shuffle(2) == ref_up
    g = (f/ f.sum()*2).to(W.dtype)  # [1,3,3,1]/4
    Cout, Cin = W.shape[:2]
    K = W.new_zeros(Cout, 2, 2, Cin, 3, 3)
    for p in range(2):
      for q in range(2):
        for t in range(4):
          for k in range(3):
            if (p+t-1-k) % 2: continue
            dh = (p+t-1-k)//2
            for u in range(4):
              for l in range(3):
                if (q+u-1-l) % 2: continue
                dw = (q+u-1-l)//2
                K[:, p, q, :, dh+1, dw+1] += g[t]*g[u]*W[:, :, k, l]
    return K.reshape(4*Cout, Cin, 3, 3)
# check
x = torch.randn(2,16,8,8,dtype=torch.float64); W = torch.randn(8,16,3,3,dtype=torch.float64)
r = ref_up(x,W); b = F.pixel_shuffle(F.conv2d(x, polyphase3(W), padding=1), 2)
print('B maxdiff', (r-b).abs().max().item(), r.shape, b.shape)
