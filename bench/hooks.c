// SPDX-License-Identifier: MIT
/*
 * bench/hooks.c - the process sources' benchmarks: hooks and install.
 *
 *   hooks	munmap, madvise(MADV_DONTNEED), mremap and free() of
 *		4 KiB ... 8 MiB, in ns per call: without umn (raw), with
 *		umn's process sources on (hooks, uffd, hooks+uffd) and no
 *		interval over the memory, and with one interval notifier
 *		over each range a call acts on; baseline: UCX's UCM (its
 *		first ucm_set_event_handler installs its hooks) with a
 *		VM_UNMAPPED handler that filters the range, as a
 *		registration cache's would.
 *   install	umn_proc_start() of each mask, and umn_proc_stop(), in a
 *		fresh process; baseline: UCM's install, the first
 *		ucm_set_event_handler(UCM_EVENT_VM_UNMAPPED).
 *
 * umn and UCM both patch libc's entry points, and neither ever unpatches,
 * so no two variants may share a process.  Each repetition runs each
 * variant in its own child, forked from the same parent (so every child
 * starts from the same memory), the variants one after the other, and
 * the child sends its samples back through a pipe: raw, umn-hooks,
 * umn-uffd, umn-hooks+uffd, ucm, raw, umn-hooks, ...  UCM's libraries are
 * loaded with dlopen() in UCM's child only; the other children never see
 * them.  UCM reads UCX_MEM_MMAP_HOOK_MODE (bistro by default, reloc) and
 * UCX_MEM_MALLOC_HOOKS when it is loaded; the report names the mode.
 *
 * What one call is.  Every call acts on memory that is mapped and has one
 * byte of each page written, so the kernel has real work: pages to free
 * (munmap, free of an mmapped chunk, madvise) or page tables to move
 * (mremap).  A batch prepares n such ranges untimed, then times the n
 * calls back to back (two clock reads per batch, none per call); a
 * sample is the mean over a few batches.
 *
 *   munmap	n mappings of the size, each a VMA of its own (a PROT_NONE
 *		guard page follows each), munmapped whole.
 *   madvise	the same mappings; MADV_DONTNEED over each whole.
 *   mremap	the same mappings, each grown by one page with
 *		MREMAP_MAYMOVE, as realloc() of an mmapped chunk does; the
 *		guard forbids growing in place, so the kernel moves it.
 *   free	n chunks from malloc(), with glibc's mmap threshold fixed at
 *		128 KiB (its dynamic threshold off): 4 to 64 KiB come from
 *		the heap, where free() makes no system call unless it trims;
 *		256 KiB and more are mmapped, and free() unmaps them.
 *
 * Transparent huge pages are off in the children (PR_SET_THP_DISABLE), so
 * every size is made of 4 KiB pages on any machine.
 *
 * "1-interval": one interval notifier is inserted over each range, after
 * the range is mapped (so the userfaultfd source registers it) and before
 * the timed calls; each call hits exactly one.  For the userfaultfd
 * source, whose brackets run in its dispatcher thread after the call, the
 * batch's time includes one umn_proc_uffd_sync(), so that every bracket
 * the batch caused has ended.  UCM's handler checks the range against
 * the batch's area and counts a hit: the least any user of UCM does.
 * The phase without intervals runs first, so no userfaultfd registration
 * made for an interval is left to slow it down.
 *
 * Two more lines take umn-hooks' overhead apart: "umn-bracket-only", a
 * start and an end on the process mm, where no interval is, in a tight
 * loop with no system call between (warm caches: the least a hooked call
 * adds); and "umn-hooks-off", munmap of 4 KiB through the patched entry
 * with the hooks switched off (the jump and the hook's own system call,
 * no bracket).  The "sees" lines say which calls each source reported in
 * a probe of one call each.
 */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <umn/interval.h>
#include <umn/mm.h>
#include <umn/proc.h>

#ifdef UMN_BENCH_UCS_LIB
#include <ucm/api/ucm.h>
#define UCM_ABSENT UMN_BENCH_UCS_LIB " could not be loaded"
#else
#define UCM_ABSENT                                                 \
	"umn-bench was built without UCX: install libucx-dev and " \
	"configure again"
#endif

#include "bench.h"
#include "regcache-proc.h"

#define PAGE	     UMN_PAGE_SIZE
#define MAX_N	     256 /* calls per batch */
#define MAX_SIZES    7
#define MAX_RUNS     11
#define MMAP_THRESH  (128 * 1024)
#define BRACKET_ITER 200000

enum variant { V_RAW, V_HOOKS, V_UFFD, V_ALL, V_UCM, NVARIANTS };

static const char *const variant_names[NVARIANTS] = {
	"raw", "umn-hooks", "umn-uffd", "umn-hooks+uffd", "ucm",
};

static const unsigned int variant_mask[NVARIANTS] = {
	0, UMN_PROC_HOOKS, UMN_PROC_UFFD, UMN_PROC_HOOKS | UMN_PROC_UFFD, 0,
};

enum op { OP_MUNMAP, OP_MADVISE, OP_MREMAP, OP_FREE, NOPS };

static const char *const op_names[NOPS] = { "munmap", "madvise", "mremap",
					    "free" };

static const size_t sizes_full[] = { 4UL << 10,	  16UL << 10, 64UL << 10,
				     256UL << 10, 1UL << 20,  2UL << 20,
				     8UL << 20 };
static const size_t sizes_quick[] = { 4UL << 10, 64UL << 10, 1UL << 20,
				      8UL << 20 };

/* --- running a variant in a child of its own --- */

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Run child_fns[@fn](@arg, @out) in a child and bring @out (@len bytes,
 * zeroed first) back through a pipe.  The child is umn-bench itself again,
 * exec'd with the hidden first argument --child (bench_child()): a fresh
 * process, whose heap no earlier benchmark has shaped (malloc would serve
 * a large block from a free chunk of it, and free() would then unmap
 * nothing).
 *
 * Return: 0; -1 if the child died before it sent everything.
 */
int bench_in_child(int fn, int arg, void *out, size_t len)
{
	char fn_s[16], arg_s[16], fd_s[16];
	size_t got = 0;
	int fds[2], status = 0;
	pid_t pid;

	fflush(NULL);
	if (pipe(fds))
		return -1;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (!pid) {
		close(fds[0]);
		snprintf(fn_s, sizeof(fn_s), "%d", fn);
		snprintf(arg_s, sizeof(arg_s), "%d", arg);
		snprintf(fd_s, sizeof(fd_s), "%d", fds[1]);
		execl("/proc/self/exe", "umn-bench", "--child", fn_s, arg_s,
		      fd_s, bench_quick ? "quick" : "full", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	while (got < len) {
		ssize_t n = read(fds[0], (char *)out + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return got == len && WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -1;
}

/* --- UCM, loaded in its child only --- */

/* The range UCM's handler counts hits in, and the hits (atomic: the
 * handler runs inside libc calls, which the compiler assumes leave this
 * file's statics alone). */
static uintptr_t ucm_lo, ucm_hi;
static unsigned long ucm_hits;

#ifdef UMN_BENCH_UCS_LIB
static const char *const ucm_mode_names[] = { "none", "reloc", "bistro" };

static void ucm_unmapped(ucm_event_type_t type, ucm_event_t *event, void *arg)
{
	uintptr_t start = (uintptr_t)event->vm_unmapped.address;
	uintptr_t end = start + event->vm_unmapped.size;

	(void)type;
	(void)arg;
	if (start < __atomic_load_n(&ucm_hi, __ATOMIC_RELAXED) &&
	    __atomic_load_n(&ucm_lo, __ATOMIC_RELAXED) < end)
		__atomic_fetch_add(&ucm_hits, 1, __ATOMIC_RELAXED);
}

/*
 * Load UCX (libucs reads UCX_MEM_* from the environment and hands them to
 * libucm), then install UCM's hooks with the first handler.  @install_ns:
 * out, the time of that first ucm_set_event_handler(); @mode: out, the
 * mmap hook mode it used.
 */
static int ucm_start(double *install_ns, int *mode)
{
	ucs_status_t (*set_handler)(int, int, ucm_event_callback_t, void *);
	const ucm_global_config_t *opts;
	ucs_status_t status;
	void *lib;
	double t0;

	lib = dlopen(UMN_BENCH_UCS_LIB, RTLD_NOW | RTLD_GLOBAL);
	if (!lib)
		return -ENOENT;
	set_handler =
		(ucs_status_t(*)(int, int, ucm_event_callback_t, void *))dlsym(
			lib, "ucm_set_event_handler");
	opts = dlsym(lib, "ucm_global_opts");
	if (!set_handler || !opts)
		return -ENOENT;
	t0 = bench_now_ns();
	status = set_handler(UCM_EVENT_VM_UNMAPPED, 0, ucm_unmapped, NULL);
	if (install_ns)
		*install_ns = bench_now_ns() - t0;
	*mode = (int)opts->mmap_hook_mode;
	return status == UCS_OK ? 0 : -ENOSYS;
}

static const char *ucm_mode_name(int mode)
{
	return mode >= 0 && mode < 3 ? ucm_mode_names[mode] : "?";
}
#else
static int ucm_start(double *install_ns, int *mode)
{
	(void)install_ns;
	(void)mode;
	return -ENOENT;
}

static const char *ucm_mode_name(int mode)
{
	(void)mode;
	return "?";
}
#endif

/* --- the calls --- */

static unsigned long itv_hits; /* atomic: ->invalidate calls */

static bool count_invalidate(struct umn_interval_notifier *sub,
			     const struct umn_range *range, unsigned long seq)
{
	(void)range;
	umn_interval_set_seq(sub, seq);
	__atomic_fetch_add(&itv_hits, 1, __ATOMIC_RELAXED);
	return true;
}

static const struct umn_interval_notifier_ops count_ops = {
	.name = "bench-hooks",
	.invalidate = count_invalidate,
};

/* One batch: n ranges of one size, prepared, then acted on. */
struct batch {
	enum op op;
	size_t size;
	int n;
	char *area;	/* n slots of size bytes and a guard page (not free) */
	void *p[MAX_N]; /* the ranges the timed calls act on */
	void *moved[MAX_N]; /* mremap's results */
	struct umn_interval_notifier subs[MAX_N];
};

static struct batch batch;

static void touch(void *p, size_t size)
{
	for (size_t off = 0; off < size; off += PAGE)
		((volatile char *)p)[off] = 1;
	((volatile char *)p)[size - 1] = 1;
}

static int prepare(struct batch *b)
{
	size_t stride = b->size + PAGE;

	if (b->op == OP_FREE) {
		for (int i = 0; i < b->n; i++) {
			b->p[i] = malloc(b->size);
			if (!b->p[i])
				return -ENOMEM;
			touch(b->p[i], b->size);
		}
		return 0;
	}
	b->area = mmap(NULL, stride * (size_t)b->n, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (b->area == MAP_FAILED)
		return -ENOMEM;
	for (int i = 0; i < b->n; i++) {
		b->p[i] = mmap(b->area + stride * (size_t)i, b->size,
			       PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (b->p[i] == MAP_FAILED)
			return -ENOMEM;
		touch(b->p[i], b->size);
	}
	return 0;
}

static void finish(struct batch *b)
{
	if (b->op == OP_MREMAP)
		for (int i = 0; i < b->n; i++)
			munmap(b->moved[i], b->size + PAGE);
	if (b->area)
		munmap(b->area, (b->size + PAGE) * (size_t)b->n);
	b->area = NULL;
}

/* The calls themselves: the only timed part. */
static int act(struct batch *b)
{
	int ret = 0;

	switch (b->op) {
	case OP_MUNMAP:
		for (int i = 0; i < b->n; i++)
			ret |= munmap(b->p[i], b->size);
		break;
	case OP_MADVISE:
		for (int i = 0; i < b->n; i++)
			ret |= madvise(b->p[i], b->size, MADV_DONTNEED);
		break;
	case OP_MREMAP:
		for (int i = 0; i < b->n; i++) {
			b->moved[i] = mremap(b->p[i], b->size, b->size + PAGE,
					     MREMAP_MAYMOVE);
			ret |= b->moved[i] == MAP_FAILED;
		}
		break;
	case OP_FREE:
		for (int i = 0; i < b->n; i++)
			free(b->p[i]);
		/* The pointers stay visible, so free() is not elided. */
		__asm__ volatile("" : : "r"(b->p) : "memory");
		break;
	default:
		break;
	}
	return ret ? -EIO : 0;
}

/* Each range's pages, as a bracket names them. */
static void page_span(const struct batch *b, int i, uintptr_t *start,
		      uintptr_t *end)
{
	*start = (uintptr_t)b->p[i] & ~(PAGE - 1);
	*end = ((uintptr_t)b->p[i] + b->size + PAGE - 1) & ~(PAGE - 1);
}

static int cover(struct batch *b, enum variant v)
{
	uintptr_t lo = UINTPTR_MAX, hi = 0, s, e;

	for (int i = 0; i < b->n; i++) {
		page_span(b, i, &s, &e);
		lo = s < lo ? s : lo;
		hi = e > hi ? e : hi;
		if (v != V_UCM &&
		    umn_interval_notifier_insert(&b->subs[i], umn_proc_mm(), s,
						 e - s, &count_ops))
			return -EINVAL;
	}
	__atomic_store_n(&ucm_lo, lo, __ATOMIC_RELAXED);
	__atomic_store_n(&ucm_hi, hi, __ATOMIC_RELAXED);
	return 0;
}

static void uncover(struct batch *b, enum variant v)
{
	__atomic_store_n(&ucm_lo, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&ucm_hi, 0, __ATOMIC_RELAXED);
	if (v != V_UCM)
		for (int i = 0; i < b->n; i++)
			umn_interval_notifier_remove(&b->subs[i]);
}

/* Does every call of this batch unmap or discard (so must hit)? */
static bool must_hit(const struct batch *b)
{
	return b->op != OP_FREE || b->size >= MMAP_THRESH;
}

/* Calls per batch: up to 16 MiB (8 MiB with --quick) of memory. */
static int batch_calls(size_t size)
{
	size_t bytes = bench_quick ? 8UL << 20 : 16UL << 20;
	int n = (int)(bytes / size), least = bench_quick ? 2 : 4;

	return n > MAX_N ? MAX_N : n < least ? least : n;
}

/*
 * Time @batches batches of @op on @size with variant @v, @with_interval
 * or not.  Return: ns per call, or a negative errno.
 */
static double time_calls(enum variant v, enum op op, size_t size,
			 bool with_interval, int batches)
{
	struct batch *b = &batch;
	unsigned long hits0, hits, calls = 0;
	double total = 0;
	int ret;

	hits0 = __atomic_load_n(v == V_UCM ? &ucm_hits : &itv_hits,
				__ATOMIC_RELAXED);
	for (int k = 0; k < batches; k++) {
		double t0;

		*b = (struct batch){ .op = op, .size = size };
		b->n = batch_calls(size);
		ret = prepare(b);
		if (!ret && with_interval)
			ret = cover(b, v);
		if (ret)
			return ret;
		t0 = bench_now_ns();
		ret = act(b);
		if (with_interval && (variant_mask[v] & UMN_PROC_UFFD))
			umn_proc_uffd_sync();
		total += bench_now_ns() - t0;
		if (with_interval)
			uncover(b, v);
		finish(b);
		if (ret)
			return ret;
		calls += (unsigned long)b->n;
	}
	hits = __atomic_load_n(v == V_UCM ? &ucm_hits : &itv_hits,
			       __ATOMIC_RELAXED) -
	       hits0;
	if (with_interval && must_hit(b) && hits < calls)
		fprintf(stderr,
			"hooks: %s %s %zu: %lu hits for %lu calls; the figure "
			"does not measure what it says\n",
			variant_names[v], op_names[op], size, hits, calls);
	return total / (double)calls;
}

/* start+end on the process mm where no interval is: what a hooked call
 * adds to the system call, besides the jump and the errno dance. */
static double time_bracket(void)
{
	struct umn_range range;
	double t0 = bench_now_ns();

	for (long i = 0; i < BRACKET_ITER; i++) {
		umn_range_init(&range, umn_proc_mm(), 1UL << 45,
			       (1UL << 45) + PAGE, UMN_EVENT_UNMAP,
			       UMN_RANGE_BLOCKABLE, NULL);
		umn_invalidate_range_start(&range);
		umn_invalidate_range_end(&range);
	}
	return (bench_now_ns() - t0) / BRACKET_ITER;
}

/* What a child of the hooks benchmark sends back. */
struct hooks_out {
	int status;	   /* 0; or why the variant could not start */
	int ucm_mode;	   /* UCM's mmap hook mode */
	unsigned int sees; /* bit per op: the source saw a probe call */
	double bracket_ns; /* umn-hooks: time_bracket() */
	double off_ns;	   /* umn-hooks: munmap of 4 KiB, hooks off */
	double ns[2][NOPS][MAX_SIZES]; /* [with interval][op][size] */
};

static int variant_start(enum variant v, int *ucm_mode)
{
	int ret;

	if (v == V_RAW)
		return 0;
	if (v == V_UCM)
		return ucm_start(NULL, ucm_mode);
	unsetenv("UMN_PROC_SOURCES"); /* the variant is what it says */
	ret = umn_proc_start(variant_mask[v]);
	if (ret < 0)
		return ret;
	return (unsigned int)ret == variant_mask[v] ? 0 : -ENOSYS;
}

/* The events a variant's own counter sees, one 1 MiB call of each op. */
static unsigned int probe(enum variant v)
{
	unsigned int sees = 0;

	if (v == V_UCM) {
		__atomic_store_n(&ucm_hi, UINTPTR_MAX, __ATOMIC_RELAXED);
	} else if (!(variant_mask[v] & UMN_PROC_HOOKS)) {
		return 0; /* userfaultfd sees only what intervals cover */
	}
	for (int op = 0; op < NOPS; op++) {
		struct umn_proc_stats st;
		unsigned long before, after;

		umn_proc_stats(&st);
		before = st.brackets[0] +
			 __atomic_load_n(&ucm_hits, __ATOMIC_RELAXED);
		batch = (struct batch){ .op = op, .size = 1UL << 20, .n = 1 };
		if (!prepare(&batch) && !act(&batch)) {
			umn_proc_stats(&st);
			after = st.brackets[0] +
				__atomic_load_n(&ucm_hits, __ATOMIC_RELAXED);
			sees |= (after > before) << op;
		}
		finish(&batch);
	}
	__atomic_store_n(&ucm_hi, 0, __ATOMIC_RELAXED);
	return sees;
}

static void hooks_child(int arg, void *out)
{
	const size_t *sizes = bench_quick ? sizes_quick : sizes_full;
	int nsizes = bench_quick ? 4 : MAX_SIZES;
	int batches = bench_quick ? 2 : 6;
	enum variant v = (enum variant)arg;
	struct hooks_out *o = out;

	/* The same memory in every child: 4 KiB pages, a fixed threshold. */
	prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
	mallopt(M_MMAP_THRESHOLD, MMAP_THRESH);
	o->status = variant_start(v, &o->ucm_mode);
	if (o->status)
		return;
	o->sees = probe(v);
	if (v == V_HOOKS)
		o->bracket_ns = time_bracket();
	for (int with = 0; with < 2; with++) {
		if (with && v == V_RAW)
			break;
		for (int op = 0; op < NOPS; op++) {
			for (int s = 0; s < nsizes; s++) {
				double ns = time_calls(v, op, sizes[s], with,
						       batches);

				if (ns < 0) {
					o->status = (int)ns;
					return;
				}
				o->ns[with][op][s] = ns;
			}
		}
	}
	if (v == V_HOOKS) {
		/* Patched, switched off: the jump to the hook and its own
		 * system call, without the bracket. */
		umn_proc_stop(UMN_PROC_HOOKS);
		o->off_ns = time_calls(v, OP_MUNMAP, 4UL << 10, false, batches);
	}
}

/* Why a variant is not in the report. */
static void left_out(const char *bench, enum variant v, int status)
{
	if (v == V_UCM && status == -ENOENT)
		printf("%s: ucm: absent (%s)\n", bench, UCM_ABSENT);
	else if (status == -ECHILD)
		printf("%s: %s: its child died; left out\n", bench,
		       variant_names[v]);
	else
		printf("%s: %s: cannot start here (%s); left out\n", bench,
		       variant_names[v], strerror(-status));
}

static void size_name(char *buf, size_t len, size_t size)
{
	if (size >= 1UL << 20)
		snprintf(buf, len, "%zuMiB", size >> 20);
	else
		snprintf(buf, len, "%zuKiB", size >> 10);
}

static void print_sees(enum variant v, unsigned int sees, int ucm_mode)
{
	printf("hooks     %s", variant_names[v]);
	if (v == V_UCM)
		printf(" (UCX_MEM_MMAP_HOOK_MODE=%s)", ucm_mode_name(ucm_mode));
	printf(" sees:");
	for (int op = 0; op < NOPS; op++)
		printf(" %s %s", op_names[op],
		       sees & (1U << op) ? "yes" : "NO");
	printf("\n");
}

/* Samples of all repetitions: [variant][with interval][op][size][run]. */
static double samples[NVARIANTS][2][NOPS][MAX_SIZES][MAX_RUNS];

/* One case: each variant's ns per call and, without an interval, its
 * overhead over the raw call of the same repetition. */
static void report_case(const bool *ok, int runs, int with, int op, int s,
			size_t size)
{
	const double *raw = samples[V_RAW][0][op][s];
	char param[64], sz[24];
	double v[MAX_RUNS];

	size_name(sz, sizeof(sz), size);
	snprintf(param, sizeof(param), "%s:%s%s", op_names[op], sz,
		 with ? ":1-interval" : "");
	for (int var = 0; var < NVARIANTS; var++) {
		const double *x = samples[var][with][op][s];

		if (!ok[var] || (with && var == V_RAW))
			continue;
		memcpy(v, x, sizeof(v));
		bench_report("hooks", variant_names[var], param, "ns_per_op", v,
			     runs);
		if (with || var == V_RAW)
			continue;
		/* Per cent over the raw run next to it (target: <= 5). */
		for (int r = 0; r < runs; r++)
			v[r] = (x[r] / raw[r] - 1) * 100;
		bench_report("hooks", variant_names[var], param, "pct_over_raw",
			     v, runs);
	}
}

void bench_hooks(void)
{
	const size_t *sizes = bench_quick ? sizes_quick : sizes_full;
	const int nsizes = bench_quick ? 4 : MAX_SIZES;
	const int runs = bench_quick ? 3 : MAX_RUNS;
	unsigned int sees[NVARIANTS] = { 0 };
	bool ok[NVARIANTS], any = false;
	double bracket[MAX_RUNS], off[MAX_RUNS];
	int ucm_mode = -1;

	if (umn_proc_mm())
		printf("hooks: this process started umn's sources before: its "
		       "children's libc is patched, \"raw\" is not raw\n");
	for (int var = 0; var < NVARIANTS; var++)
		ok[var] = true;
	for (int r = 0; r < runs; r++) {
		for (int var = 0; var < NVARIANTS; var++) {
			struct hooks_out o = { .status = -ECHILD };

			if (!ok[var])
				continue;
			if (bench_in_child(CHILD_HOOKS, var, &o, sizeof(o)))
				o.status = -ECHILD;
			if (o.status) {
				left_out("hooks", var, o.status);
				ok[var] = false;
				continue;
			}
			for (int w = 0; w < 2; w++)
				for (int op = 0; op < NOPS; op++)
					for (int s = 0; s < nsizes; s++)
						samples[var][w][op][s][r] =
							o.ns[w][op][s];
			if (var == V_HOOKS) {
				bracket[r] = o.bracket_ns;
				off[r] = o.off_ns;
			}
			if (var == V_UCM)
				ucm_mode = o.ucm_mode;
			sees[var] = o.sees;
		}
	}
	for (int var = 0; var < NVARIANTS; var++)
		any = any || (var != V_RAW && ok[var]);
	if (!ok[V_RAW] || !any)
		return;
	for (int var = 0; var < NVARIANTS; var++)
		if (ok[var] &&
		    (var == V_UCM || (variant_mask[var] & UMN_PROC_HOOKS)))
			print_sees(var, sees[var], ucm_mode);
	if (ok[V_HOOKS]) {
		bench_report("hooks", "umn-bracket-only", "no-interval",
			     "ns_per_op", bracket, runs);
		bench_report("hooks", "umn-hooks-off", "munmap:4KiB",
			     "ns_per_op", off, runs);
	}
	for (int with = 0; with < 2; with++)
		for (int op = 0; op < NOPS; op++)
			for (int s = 0; s < nsizes; s++)
				report_case(ok, runs, with, op, s, sizes[s]);
}

/* --- install --- */

struct install_out {
	int status;
	int ucm_mode;
	double start_ns, stop_ns;
};

static void install_child(int arg, void *out)
{
	enum variant v = (enum variant)arg;
	struct install_out *o = out;
	double t0;
	int ret;

	if (v == V_UCM) {
		o->status = ucm_start(&o->start_ns, &o->ucm_mode);
		return;
	}
	unsetenv("UMN_PROC_SOURCES");
	t0 = bench_now_ns();
	ret = umn_proc_start(variant_mask[v]);
	o->start_ns = bench_now_ns() - t0;
	if (ret < 0 || (unsigned int)ret != variant_mask[v]) {
		o->status = ret < 0 ? ret : -ENOSYS;
		return;
	}
	t0 = bench_now_ns();
	umn_proc_stop(variant_mask[v]);
	o->stop_ns = bench_now_ns() - t0;
}

static const struct {
	void (*fn)(int arg, void *out);
	size_t len;
} child_fns[] = {
	[CHILD_HOOKS] = { hooks_child, sizeof(struct hooks_out) },
	[CHILD_INSTALL] = { install_child, sizeof(struct install_out) },
	[CHILD_REGCACHE_PROC] = { rcp_child, sizeof(struct rcp_out) },
};

/* umn-bench --child FN ARG FD quick|full: one child of bench_in_child(). */
int bench_child(int argc, char **argv)
{
	static union {
		struct hooks_out h;
		struct install_out i;
		struct rcp_out r;
	} out;
	int fn, fd;

	if (argc != 6)
		return 2;
	fn = atoi(argv[2]);
	fd = atoi(argv[4]);
	if (fn < 0 || fn >= (int)(sizeof(child_fns) / sizeof(child_fns[0])))
		return 2;
	bench_quick = !strcmp(argv[5], "quick");
	child_fns[fn].fn(atoi(argv[3]), &out);
	return write_all(fd, &out, child_fns[fn].len) ? 1 : 0;
}

void bench_install(void)
{
	const int runs = bench_quick ? 5 : MAX_RUNS;
	double start[NVARIANTS][MAX_RUNS], stop[NVARIANTS][MAX_RUNS];
	bool ok[NVARIANTS] = { false };
	char param[40];
	int ucm_mode = -1;

	for (int var = V_HOOKS; var < NVARIANTS; var++)
		ok[var] = true;
	for (int r = 0; r < runs; r++) {
		for (int var = V_HOOKS; var < NVARIANTS; var++) {
			struct install_out o = { .status = -ECHILD };

			if (!ok[var])
				continue;
			if (bench_in_child(CHILD_INSTALL, var, &o, sizeof(o)))
				o.status = -ECHILD;
			if (o.status) {
				left_out("install", var, o.status);
				ok[var] = false;
				continue;
			}
			start[var][r] = o.start_ns / 1e3;
			stop[var][r] = o.stop_ns / 1e3;
			ucm_mode = o.ucm_mode;
		}
	}
	for (int var = V_HOOKS; var < NVARIANTS; var++) {
		if (!ok[var])
			continue;
		if (var == V_UCM) {
			snprintf(param, sizeof(param), "first-handler:%s",
				 ucm_mode_name(ucm_mode));
			bench_report("install", variant_names[var], param,
				     "us_per_op", start[var], runs);
			continue;
		}
		bench_report("install", variant_names[var], "start",
			     "us_per_op", start[var], runs);
		bench_report("install", variant_names[var], "stop", "us_per_op",
			     stop[var], runs);
	}
}
