// SPDX-License-Identifier: MIT
/*
 * primaries/proc/patch-x86_64.c - the x86-64 patcher (patch.h).
 *
 * A thread may be stopped anywhere in a function we patch, and resumes at
 * an instruction boundary of the original code.  So a patch may only
 * replace whole instructions that no thread can be in the middle of:
 * exactly the first instruction (a thread is either before it or past it),
 * written with one atomic 8-byte store (an aligned quadword is fetched
 * whole).  Two forms:
 *
 *   direct	the first instruction is 5 bytes or more (glibc's syscall
 *		wrappers begin with "mov $nr, %eax"): it becomes
 *		"jmp rel32" to a slot of our trampoline page;
 *   padded	it is 2 to 4 bytes: it becomes "jmp rel8" back into the
 *		alignment padding before the function, which first received
 *		(plainly: nobody runs padding) a "jmp rel32" to the slot.
 *		The padding is proven to be padding from the unwind tables
 *		(.eh_frame_hdr): the function before ends before it.
 *
 * The trampoline page is within +-2 GiB of libc; each slot is
 * "jmp *0(%rip)" and the hook's address.  The hook has the libc
 * function's signature and replaces it whole.
 */
#if defined(__x86_64__)

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "../../core/debug.h"
#include "../../core/fail.h"
#include "patch.h"

/* The length of the few first instructions we accept, or 0. */
static int first_insn_len(const unsigned char *p)
{
	if (p[0] >= 0xb8 && p[0] <= 0xbf) /* mov $imm32, %r32 */
		return 5;
	if (p[0] == 0xf3 && p[1] == 0x0f && p[2] == 0x1e && p[3] == 0xfa)
		return 4; /* endbr64 */
	if (p[0] == 0x8d && (p[1] & 0xc0) == 0x40 && (p[1] & 7) != 4)
		return 3; /* lea disp8(%r), %r32 (sigaction) */
	if (p[0] >= 0x40 && p[0] <= 0x4f) { /* REX */
		if ((p[1] == 0x89 || p[1] == 0x8b) && (p[2] & 0xc0) == 0xc0)
			return 3; /* mov %reg, %reg */
		if (p[1] == 0x83 && (p[2] & 0xc0) == 0xc0)
			return 4; /* add/sub/and... $imm8, %reg */
		if (p[1] == 0x81 && (p[2] & 0xc0) == 0xc0)
			return 7; /* ... $imm32, %reg */
		if (p[1] >= 0x50 && p[1] <= 0x5f)
			return 2; /* push/pop %r8..%r15 */
	}
	return 0;
}

/* --- the unwind tables: where does the function before @addr end? --- */

static bool read_encoded(const unsigned char **pp, unsigned char enc,
			 uintptr_t datarel, uint64_t *out)
{
	const unsigned char *p = *pp;
	int64_t v;

	switch (enc & 0x0f) {
	case 0x03: /* udata4 */
		v = *(const uint32_t *)p;
		p += 4;
		break;
	case 0x0b: /* sdata4 */
		v = *(const int32_t *)p;
		p += 4;
		break;
	case 0x00: /* absptr */
	case 0x04: /* udata8 */
	case 0x0c: /* sdata8 */
		v = *(const int64_t *)p;
		p += 8;
		break;
	default:
		return false;
	}
	switch (enc & 0x70) {
	case 0x00:
		break;
	case 0x10: /* pcrel */
		v += (intptr_t)*pp;
		break;
	case 0x30: /* datarel */
		v += (intptr_t)datarel;
		break;
	default:
		return false;
	}
	*pp = p;
	*out = (uint64_t)v;
	return true;
}

static uint64_t uleb(const unsigned char **pp)
{
	uint64_t v = 0;
	int shift = 0;

	while (**pp & 0x80)
		v |= (uint64_t)(*(*pp)++ & 0x7f) << shift, shift += 7;
	v |= (uint64_t)(*(*pp)++) << shift;
	return v;
}

/* The FDE's encoding of addresses, from its CIE's augmentation. */
static bool fde_encoding(const unsigned char *cie, unsigned char *enc)
{
	const unsigned char *p = cie + 8; /* length, CIE id */
	const char *aug;
	unsigned char version;

	if (*(const uint32_t *)(cie + 4) != 0) /* not a CIE */
		return false;
	version = *p++;
	aug = (const char *)p;
	p += strlen(aug) + 1;
	uleb(&p); /* code alignment */
	uleb(&p); /* data alignment (sleb, same length) */
	if (version == 1)
		p++;
	else
		uleb(&p);
	*enc = 0; /* absptr unless 'R' says */
	if (aug[0] != 'z')
		return aug[0] == '\0';
	uleb(&p); /* augmentation length */
	for (aug++; *aug; aug++) {
		uint64_t skip;

		switch (*aug) {
		case 'R':
			*enc = *p++;
			break;
		case 'L':
			p++;
			break;
		case 'P': {
			unsigned char penc = *p++;

			if (!read_encoded(&p, penc & 0x0f, 0, &skip))
				return false;
			break;
		}
		case 'S':
		case 'B':
			break;
		default:
			return false;
		}
	}
	return true;
}

struct lookup {
	uintptr_t addr;
	uintptr_t prev_end; /* out: end of the function before addr */
	bool found;
};

static int lookup_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct lookup *l = arg;
	const unsigned char *hdr = NULL, *p, *table, *fde, *cie;
	bool mine = false;
	uint64_t ehframe, count, start, range;
	unsigned char enc;
	size_t lo, hi;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t va = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_LOAD && l->addr >= va &&
		    l->addr < va + ph->p_memsz)
			mine = true;
		if (ph->p_type == PT_GNU_EH_FRAME)
			hdr = (const unsigned char *)va;
	}
	if (!mine)
		return 0;
	if (!hdr || hdr[0] != 1 || hdr[3] != 0x3b) /* datarel sdata4 table */
		return 1;
	p = hdr + 4;
	if (!read_encoded(&p, hdr[1], (uintptr_t)hdr, &ehframe) ||
	    !read_encoded(&p, hdr[2], (uintptr_t)hdr, &count) || !count)
		return 1;
	table = p;
	/* The last entry that starts before addr. */
	lo = 0;
	hi = count;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		uintptr_t at =
			(uintptr_t)hdr + *(const int32_t *)(table + 8 * mid);

		if (at < l->addr)
			lo = mid;
		else
			hi = mid;
	}
	if ((uintptr_t)hdr + *(const int32_t *)(table + 8 * lo) >= l->addr)
		return 1;
	fde = hdr + *(const int32_t *)(table + 8 * lo + 4);
	if (*(const uint32_t *)fde == 0xffffffffU)
		return 1; /* 64-bit DWARF: not in libc */
	cie = fde + 4 - *(const int32_t *)(fde + 4);
	if (!fde_encoding(cie, &enc))
		return 1;
	p = fde + 8;
	if (!read_encoded(&p, enc, 0, &start) ||
	    !read_encoded(&p, enc & 0x0f, 0, &range))
		return 1;
	l->prev_end = start + range;
	l->found = true;
	return 1;
}

/* The length of the no-op (or int3) at @p, or 0: the encodings
 * assemblers pad with. */
static size_t nop_len(const unsigned char *p, const unsigned char *end)
{
	size_t pre = 0;

	if (*p == 0x90 || *p == 0xcc)
		return 1;
	while (p + pre < end && (p[pre] == 0x66 || p[pre] == 0x2e))
		pre++;
	p += pre;
	if (p + 3 > end || p[0] != 0x0f || p[1] != 0x1f)
		return pre == 1 && *p == 0x90 ? 2 : 0; /* 66 90 */
	switch (p[2]) { /* nopl/nopw with ModRM 00, 40, 44, 80 or 84 */
	case 0x00:
		return pre + 3;
	case 0x40:
		return pre + 4;
	case 0x44:
		return pre + 5;
	case 0x80:
		return pre + 7;
	case 0x84:
		return pre + 8;
	}
	return 0;
}

/*
 * Bytes of padding right before @entry: the unwind tables say no function
 * owns them, and they decode as no-ops up to @entry.
 */
static size_t padding_before(const unsigned char *entry)
{
	struct lookup l = { .addr = (uintptr_t)entry };
	const unsigned char *p;
	size_t n;

	dl_iterate_phdr(lookup_object, &l);
	if (!l.found || l.prev_end > l.addr)
		return 0;
	for (p = (const unsigned char *)l.prev_end; p < entry; p += n)
		if (!(n = nop_len(p, entry)))
			return 0;
	return p == entry ? l.addr - l.prev_end : 0;
}

/* --- the writes --- */

/*
 * The writes to code are plain instructions in asm: a sanitizer must not
 * shadow them (TSan has no shadow for libc's text and would fault).
 */
static void write_code(unsigned char *dst, const unsigned char *src, size_t n)
{
	__asm__ volatile("rep movsb"
			 : "+D"(dst), "+S"(src), "+c"(n)
			 :
			 : "memory");
}

/* Replace bytes [at, at + n) inside one aligned quadword, atomically. */
static void store_atomically(unsigned char *at, const unsigned char *bytes,
			     size_t n)
{
	uint64_t *word = (uint64_t *)((uintptr_t)at & ~(uintptr_t)7);
	uint64_t old, new;
	bool done;

	__asm__ volatile("movq %1, %0" : "=r"(old) : "m"(*word));
	do {
		new = old;
		memcpy((unsigned char *)&new + (at - (unsigned char *)word),
		       bytes, n);
		__asm__ volatile("lock cmpxchgq %3, %1"
				 : "=@ccz"(done), "+m"(*word), "+a"(old)
				 : "r"(new)
				 : "memory");
	} while (!done);
}

static void jmp_rel32(unsigned char out[5], const unsigned char *from,
		      const unsigned char *to)
{
	int32_t rel = (int32_t)(to - (from + 5));

	out[0] = 0xe9;
	memcpy(out + 1, &rel, 4);
}

int umn__proc_patch_apply(const struct patch_plan *pl)
{
	unsigned char *entry = pl->entry, bytes[5];
	int ret;

	ret = umn__fail_here() ? -ENOMEM
			       : umn__proc_patch_protect(
					 entry - 5, entry + 8,
					 PROT_READ | PROT_WRITE | PROT_EXEC);
	if (ret)
		return ret;
	if (pl->padded) {
		jmp_rel32(bytes, entry - 5, pl->slot);
		write_code(entry - 5, bytes, 5);
		bytes[0] = 0xeb; /* jmp rel8 */
		bytes[1] = (unsigned char)-7;
		store_atomically(entry, bytes, 2);
	} else {
		jmp_rel32(bytes, entry, pl->slot);
		store_atomically(entry, bytes, 5);
	}
	/* Patched either way; at worst the page stays writable. */
	umn__proc_patch_protect(entry - 5, entry + 8, PROT_READ | PROT_EXEC);
	return 0;
}

int umn__proc_patch_plan(void *libc, const struct proc_hook *h,
			 struct patch_plan *pl)
{
	unsigned char *entry = dlsym(libc, h->name);
	uintptr_t in_word;
	int len;

	if (!entry)
		return -ENOSYS;
	in_word = (uintptr_t)entry & 7;
	len = first_insn_len(entry);
	pl->entry = entry;
	pl->site = entry;
	if (len >= 5 && in_word + 5 <= 8) {
		pl->padded = false;
		return 0;
	}
	if (len >= 2 && in_word + 2 <= 8 && padding_before(entry) >= 5) {
		pl->padded = true;
		return 0;
	}
	umn__report("proc: libc's %s begins with bytes umn cannot patch "
		    "safely (%02x %02x %02x %02x): %s",
		    h->name, entry[0], entry[1], entry[2], entry[3],
		    h->usable ? "left as it is" : "the hooks stay off");
	return -ENOSYS;
}

void umn__proc_patch_fill(unsigned char *slot, const struct patch_plan *pl,
			  const struct proc_hook *h)
{
	uint64_t target = (uintptr_t)h->hook;

	(void)pl;
	memcpy(slot, "\xff\x25\x00\x00\x00\x00", 6); /* jmp *0(%rip) */
	memcpy(slot + 6, &target, 8);
}

#endif /* __x86_64__ */
