import mall, torch, time, torch.nn.functional as F
CL=torch.channels_last
mk = torch.ops.mkldnn
with torch.inference_mode():
    H=32; cin=cout=32
    x = torch.randn(1,cin,H,H).contiguous(memory_format=CL); W = (torch.randn(cout,cin,3,3)*0.05).contiguous(memory_format=CL)
    b = torch.randn(cout); nz = torch.randn(1,1,H,H)
    full = nz.expand(1,cout,H,H).contiguous(memory_format=CL)
    r = F.conv2d(x,W,b,padding=1)+nz
    for u in [None, 'relu', 'leaky_relu','none']:
        for ba in ['add','sum']:
            try:
                o = mk._convolution_pointwise.binary(x, full, W, b, [1,1],[1,1],[1,1],1,ba,1.0,u,[0.2] if u=='leaky_relu' else [],"")
                rr = F.leaky_relu(r,0.2) if u=='leaky_relu' else (F.relu(r) if u=='relu' else r)
                print(ba,u,'ok',(o-rr).abs().max().item())
            except Exception as e: print(ba,u,'FAIL',str(e)[:100])
            try:
                oth = full.clone()
                o = mk._convolution_pointwise_.binary(oth, x, W, b, [1,1],[1,1],[1,1],1,ba,1.0,u,[0.2] if u=='leaky_relu' else [],"")
                rr = F.leaky_relu(r,0.2) if u=='leaky_relu' else (F.relu(r) if u=='relu' else r)
                print(' inplace',ba,u,'ok',(o-rr).abs().max().item(), o.data_ptr()==oth.data_ptr())
            except Exception as e: print(' inplace',ba,u,'FAIL',str(e)[:100])
    try:
        o = mk._convolution_pointwise.binary(x, nz, W, b, [1,1],[1,1],[1,1],1,'add',1.0,None,[],"")
        print('bcast ok', (o-r).abs().max().item())
    except Exception as e: print('bcast FAIL', str(e)[:200])
