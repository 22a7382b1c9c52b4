//go:build amd64 && !purego && !noasm

#include "textflag.h"

// validAVX2 checks the input in blocks of 32 bytes, each with the block before
// it (zeros before the first). Its registers:
//	Y15 0x0F in every byte       Y11 0xE0-0x80 in every byte
//	Y14 class table, prev hi     Y10 0xF0-0x80 in every byte
//	Y13 class table, prev lo     Y9  open-sequence limits (utf8Vec[6])
//	Y12 class table, cur hi      Y6  0x80 in every byte
//	Y8  errors so far            Y7  previous block
//	Y0  current block            Y1..Y5 scratch

// CLASSIFY ORs into Y8 the errors of the 32 bytes in Y0, and moves Y0 to Y7.
// VPALIGNR works per 16-byte lane, so Y1 supplies the predecessors: the top
// of its low lane holds the bytes before Y0's low lane, the top of its high
// lane those before Y0's high lane. In order:
//	Y2, Y3, Y4 = the byte one, two and three back of each byte;
//	Y5 = the classes of each (previous, current) pair: the AND of the
//	     look-ups by the previous byte's high nibble, its low nibble and the
//	     current byte's high nibble;
//	Y3 = 0x80 where the byte two back is E0..FF or the byte three back is
//	     F0..FF, that is where a continuation byte must follow a
//	     continuation byte. The XOR cancels twoConts there, and flags the
//	     byte there that is not a continuation.
#define CLASSIFY \
	VPALIGNR $15, Y1, Y0, Y2; \
	VPALIGNR $14, Y1, Y0, Y3; \
	VPALIGNR $13, Y1, Y0, Y4; \
	VPSRLW   $4, Y2, Y5;      \
	VPAND    Y15, Y5, Y5;     \
	VPSHUFB  Y5, Y14, Y5;     \
	VPAND    Y15, Y2, Y2;     \
	VPSHUFB  Y2, Y13, Y2;     \
	VPAND    Y2, Y5, Y5;      \
	VPSRLW   $4, Y0, Y2;      \
	VPAND    Y15, Y2, Y2;     \
	VPSHUFB  Y2, Y12, Y2;     \
	VPAND    Y2, Y5, Y5;      \
	VPSUBUSB Y11, Y3, Y3;     \
	VPSUBUSB Y10, Y4, Y4;     \
	VPOR     Y4, Y3, Y3;      \
	VPAND    Y6, Y3, Y3;      \
	VPXOR    Y3, Y5, Y5;      \
	VPOR     Y5, Y8, Y8;      \
	VMOVDQU  Y0, Y7

// CHECK is CLASSIFY for a block that follows the block in Y7: Y1 gets Y7's
// high lane and Y0's low lane.
#define CHECK \
	VPERM2I128 $0x21, Y0, Y7, Y1; \
	CLASSIFY

// func validAVX2(p *byte, n int) bool
TEXT ·validAVX2(SB), NOSPLIT, $0-17
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), BX
	LEAQ (SI)(BX*1), DI // end of input
	MOVQ BX, CX
	ANDQ $~31, CX       // bytes in whole blocks
	VMOVDQU ·utf8Vec+0(SB), Y15
	VMOVDQU ·utf8Vec+32(SB), Y14
	VMOVDQU ·utf8Vec+64(SB), Y13
	VMOVDQU ·utf8Vec+96(SB), Y12
	VMOVDQU ·utf8Vec+128(SB), Y11
	VMOVDQU ·utf8Vec+160(SB), Y10
	VMOVDQU ·utf8Vec+192(SB), Y9
	VMOVDQU ·utf8Vec+224(SB), Y6
	VPXOR   Y8, Y8, Y8
	VPXOR   Y7, Y7, Y7
	MOVQ    SI, R8      // start of input
	CMPQ    BX, $32
	JB      short

loop:
	VMOVDQU   (SI), Y0
	VPMOVMSKB Y0, AX
	TESTL     AX, AX
	JNZ       mixed

	// An ASCII block is only wrong if the previous one left a sequence open.
	VPSUBUSB Y9, Y7, Y1
	VPOR     Y1, Y8, Y8
	VMOVDQU  Y0, Y7
	ADDQ     $32, SI
	SUBQ     $32, CX
	JZ       tail

ascii:
	// ASCII comes in runs: skip four blocks at a time while all of them
	// are ASCII. Y7 keeps the ASCII block before them, which is as good a
	// predecessor as the last of them: the classes and the open-sequence
	// check see only that a byte is ASCII.
	CMPQ      CX, $128
	JB        loop
	VMOVDQU   (SI), Y1
	VPOR      32(SI), Y1, Y1
	VPOR      64(SI), Y1, Y1
	VPOR      96(SI), Y1, Y1
	VPMOVMSKB Y1, AX
	TESTL     AX, AX
	JNZ       loop
	ADDQ      $128, SI
	SUBQ      $128, CX
	JNZ       ascii
	JMP       tail

mixed:
	// No early exit on an error: a reader validates what arrives as it
	// arrives, so the scan costs no more than the reading, and testing Y8
	// would take a port the block needs.
	CHECK
	ADDQ $32, SI
	SUBQ $32, CX
	JNZ  loop

tail:
	// Check the last 32 bytes again if the blocks left some out. Windows
	// already checked come out the same, so the overlap is harmless, but the
	// block needs its true predecessors: the four bytes before it, zero
	// before the start of the input, placed at the top of Y7.
	CMPQ      SI, DI
	JEQ       end
	LEAQ      -32(DI), SI
	VMOVDQU   (SI), Y0
	VPMOVMSKB Y0, AX
	TESTL     AX, AX
	JZ        end // ASCII: only an open sequence before it is wrong
	MOVQ      SI, CX
	SUBQ      R8, CX  // offset of the block, 1..31 past a whole one
	CMPQ      CX, $4
	JB        near
	MOVL      -4(SI), AX
	JMP       before

near:
	// Fewer than four bytes precede the block: shift in zeros.
	MOVL (R8), AX
	NEGQ CX
	ADDQ $4, CX
	SHLQ $3, CX
	SHLL CX, AX

before:
	VMOVD      AX, X7
	VPSLLDQ    $12, Y7, Y7
	VPERM2I128 $0x08, Y7, Y7, Y7
	CHECK

end:
	// The input must not end inside a sequence.
	VPSUBUSB Y9, Y7, Y1
	VPOR     Y1, Y8, Y8
	VPTEST   Y8, Y8
	SETEQ    ret+16(FP)
	VZEROUPPER
	RET

short:
	// 16 <= n < 32: the first 16 bytes in the low lane, the last 16 in the
	// high lane, which sees as predecessors the four bytes before it (zero
	// before the start of the input, as in tail).
	VMOVDQU     (SI), X0
	VINSERTI128 $1, -16(DI), Y0, Y0
	VPMOVMSKB   Y0, AX
	TESTL       AX, AX
	JZ          end // ASCII; Y7 and Y8 are zero
	LEAQ        -16(BX), CX // offset of the high lane, 0..15
	XORL        AX, AX
	CMPQ        CX, $4
	JB          shortnear
	MOVL        -20(DI), AX
	JMP         shortbefore

shortnear:
	TESTQ CX, CX
	JZ    shortbefore
	MOVL  (R8), AX
	NEGQ  CX
	ADDQ  $4, CX
	SHLQ  $3, CX
	SHLL  CX, AX

shortbefore:
	VMOVD      AX, X1
	VPSLLDQ    $12, X1, X1
	VPERM2I128 $0x08, Y1, Y1, Y1
	CLASSIFY
	JMP        end
