import mall, torch, time, os
from probe8 import bench
torch.manual_seed(0)
with torch.inference_mode():
  for (B,M,K,N) in [(36,512,512,256),(36,512,512,64),(36,256,256,256),(36,128,128,1024),(36,64,64,4096),(16,512,512,256),(1,4096,4096,1024)]:
    a=torch.randn(B,M,K); b=torch.randn(B,K,N); o=torch.empty(B,M,N)
    bt = b.transpose(1,2).contiguous().transpose(1,2)
    r = bench({'bmm': lambda: torch.bmm(a,b,out=o), 'bmm_bT': lambda: torch.bmm(a,bt,out=o)}, rounds=3)
    for k,(t,u) in r.items(): print(B,M,K,N,k, f'{t*1e3:.2f} ms {2*B*M*K*N/t/1e9:.0f} GF/s util {u:.2f}')
