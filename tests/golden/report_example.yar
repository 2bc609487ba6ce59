// attributor 0.1.0: code signatures for case case-0123456789ab
// TLP:AMBER. Each string matched the query and its family's corpus samples
// and no other corpus sample when it was built; re-verify before deploying elsewhere.

rule attributor_aurora_9b89025c
{
    meta:
        family = "aurora"
        actor = "Example Group"
        case_id = "case-0123456789ab"
        tlp = "TLP:AMBER"
        tool = "attributor 0.1.0"
        corpus_digest = "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
        sample = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    strings:
        // aaaaaaaaaaaa function 0x401000: matched 2 samples, 3 corpus files checked
        //   0x401000  push rbp
        //   0x401001  mov rbp, rsp
        //   0x401004  xor eax, eax
        //   0x401006  movzx ecx, byte ptr [rdi + rax]
        //   0x40100a  xor ecx, 0x5a
        //   0x40100d  mov byte ptr [rdi + rax], cl
        //   0x401010  inc rax
        //   0x401013  cmp rax, rsi
        //   0x401016  jb 0x401006
        //   0x401018  pop rbp
        //   0x401019  ret
        $f_401000 = { 55 48 89 E5 31 C0 0F B6 0C 07 83 F1 5A 88 0C 07 48 FF C0 48 39 F0 72 EE 5D C3 }
    condition:
        any of them
}
