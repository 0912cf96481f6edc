// SPDX-License-Identifier: MIT
/*
 * watch-strace-match LABEL STRACE_LOG JSON [--expect-misses]
 *
 * The oracle of tests/proc/watch-strace.sh: matches what strace saw a
 * program do against what umn-watch reported of it.
 *
 * STRACE_LOG is `strace -f -qq -X raw -o LOG umn-watch --json JSON --
 * PROGRAM`: the first process is umn-watch, its first child the program;
 * the program and every descendant of it are watched, umn-watch's own
 * calls are not.  For each call of theirs that can drop or replace pages
 * this works out, from strace's arguments and results alone, the ranges
 * umn-watch must report (see expect_call()): a call that succeeded and
 * changed the mapping is "required".  Then each JSON record (the uffd
 * source's aside: they are the kernel's later word on a call already
 * recorded) is matched to the first unused expected range of the same
 * thread and call with the same start and end.
 *
 * Prints up to 10 extra records and 20 unmatched calls, then one line:
 * LABEL: strace calls N, matched M, unmatched U, extra E, the counts by
 * call (matched/required, and how many of those the hooks told), how many of the matched records came from
 * umn's hooks (the rest: the supervisor alone), and how many records
 * matched calls that failed or changed nothing (an mremap that may move
 * and grew in place: umn reports it before it knows).  Exit status: 0 when U and E are 0; with
 * --expect-misses (the negative control), 0 when U is not 0.  2 on bad
 * input.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE	4096UL
#define PA(x)	(((x) + PAGE - 1) & ~(PAGE - 1))
#define ANY_END (~0UL) /* brk with no known break, shmat, shmdt */

enum call {
	C_MUNMAP,
	C_MREMAP,
	C_MADVISE,
	C_MMAP,
	C_BRK,
	C_SHMAT,
	C_SHMDT,
	C_PMADVISE,
	C_COUNT
};

static const char *const call_names[C_COUNT] = {
	"munmap", "mremap", "madvise", "mmap",
	"brk",	  "shmat",  "shmdt",   "process_madvise",
};

struct expect {
	long tid;
	unsigned long start, end;
	enum call call;
	bool required, used, hooks; /* hooks: matched by a hooks record */
	long seq;		    /* the call's line number */
	char *line;		    /* the call, for the report */
};

static struct expect *exp_;
static size_t nexp, capexp;

/* A thread: its parent, how it was made, and its address space. */
struct task {
	long tid, parent;
	unsigned long flags; /* clone flags it was made with */
	long mm;	     /* -1: not set yet */
	bool watched, known;
};

static struct task *tasks;
static size_t ntasks, captasks;

struct mm {
	unsigned long brk; /* 0: not known */
};

static struct mm *mms;
static size_t nmms, capmms;

static void *grow(void *p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return p;
	*cap = *cap ? 2 * *cap : 256;
	p = realloc(p, *cap * size);
	if (!p) {
		perror("realloc");
		exit(2);
	}
	return p;
}

static struct task *task(long tid)
{
	size_t i;

	for (i = ntasks; i-- > 0;)
		if (tasks[i].tid == tid)
			return &tasks[i];
	tasks = grow(tasks, &captasks, ntasks, sizeof(*tasks));
	tasks[ntasks] = (struct task){ .tid = tid, .parent = 0, .mm = -1 };
	return &tasks[ntasks++];
}

static long new_mm(unsigned long brk)
{
	mms = grow(mms, &capmms, nmms, sizeof(*mms));
	mms[nmms].brk = brk;
	return (long)nmms++;
}

/* The address space of @t, made at first use from its parent's. */
static long mm_of(struct task *t)
{
	struct task *p;
	long pmm;

	if (t->mm >= 0)
		return t->mm;
	if (!t->parent) {
		t->mm = new_mm(0);
		return t->mm;
	}
	p = task(t->parent);
	pmm = mm_of(p);
	t = task(t->tid);     /* task() may have moved the array */
	if (t->flags & 0x100) /* CLONE_VM: a thread, or vfork */
		t->mm = pmm;
	else
		t->mm = new_mm(mms[pmm].brk);
	return t->mm;
}

static void expect(long tid, enum call call, unsigned long start,
		   unsigned long end, bool required, long seq, const char *line)
{
	if (end != ANY_END && start >= end)
		return;
	exp_ = grow(exp_, &capexp, nexp, sizeof(*exp_));
	exp_[nexp++] = (struct expect){ .tid = tid,
					.start = start,
					.end = end,
					.call = call,
					.required = required,
					.seq = seq,
					.line = strdup(line) };
}

static bool page_range(unsigned long a, unsigned long len, unsigned long *end)
{
	if ((a & (PAGE - 1)) || !len || PA(len) < len || a + PA(len) < a)
		return false;
	*end = a + PA(len);
	return true;
}

static unsigned long num(const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	if (!strncmp(s, "NULL", 4))
		return 0;
	return strtoul(s, NULL, 0);
}

/* Split "a, b, {c, d}, [e]" at its top-level commas. */
static int split_args(char *s, char **arg, int max)
{
	int n = 0, depth = 0;
	bool quote = false;

	if (!*s)
		return 0;
	arg[n++] = s;
	for (; *s; s++) {
		if (quote) {
			if (*s == '\\' && s[1])
				s++;
			else if (*s == '"')
				quote = false;
			continue;
		}
		switch (*s) {
		case '"':
			quote = true;
			break;
		case '{':
		case '[':
		case '(':
			depth++;
			break;
		case '}':
		case ']':
		case ')':
			depth--;
			break;
		case ',':
			if (!depth && n < max) {
				*s = '\0';
				arg[n++] = s + 1;
			}
			break;
		}
	}
	return n;
}

static bool advice_counts(unsigned long adv)
{
	switch (adv) {
	case 4:	  /* DONTNEED */
	case 8:	  /* FREE */
	case 9:	  /* REMOVE */
	case 21:  /* PAGEOUT */
	case 24:  /* DONTNEED_LOCKED */
	case 25:  /* COLLAPSE */
	case 100: /* HWPOISON */
	case 101: /* SOFT_OFFLINE */
	case 102: /* GUARD_INSTALL */
		return true;
	}
	return false;
}

/*
 * The ranges umn-watch must report for one completed call of @tid, from
 * its arguments @a and result @ret (failed: ret_ok false).  Ranges are
 * worked out as the kernel uses the arguments: [addr, addr + len rounded
 * up to pages); an mremap that may move takes its whole old range, one
 * that may not the tail it gives up, MREMAP_FIXED the destination too;
 * brk the pages between the new break and the break before it (known
 * from the program's earlier brk calls, fork and exec followed).
 */
static void expect_call(long tid, const char *name, char **a, int n,
			unsigned long ret, bool ok, long seq, const char *line)
{
	struct task *t = task(tid);
	unsigned long end, f;

	if (!strcmp(name, "munmap") && n >= 2) {
		if (page_range(num(a[0]), num(a[1]), &end))
			expect(tid, C_MUNMAP, num(a[0]), end, ok && !ret, seq,
			       line);
	} else if (!strcmp(name, "madvise") && n >= 3) {
		if (advice_counts(num(a[2])) &&
		    page_range(num(a[0]), num(a[1]), &end))
			expect(tid, C_MADVISE, num(a[0]), end, ok && !ret, seq,
			       line);
	} else if (!strcmp(name, "mmap") && n >= 6) {
		f = num(a[3]);
		if ((f & 0x10) && !(f & 0x100000) &&
		    page_range(num(a[0]), num(a[1]), &end))
			expect(tid, C_MMAP, num(a[0]), end, ok, seq, line);
	} else if (!strcmp(name, "mremap") && n >= 4) {
		unsigned long o = num(a[0]), ol = num(a[1]), nl = num(a[2]);

		f = num(a[3]);
		if (page_range(o, ol, &end)) {
			if (f & 7) /* MAYMOVE, FIXED, DONTUNMAP */
				expect(tid, C_MREMAP, o, end,
				       ok && (ret != o || PA(nl) < PA(ol)), seq,
				       line);
			else if (PA(nl) && PA(nl) < PA(ol))
				expect(tid, C_MREMAP, o + PA(nl), end, ok, seq,
				       line);
		}
		if ((f & 2) && n >= 5 && page_range(num(a[4]), nl, &end))
			expect(tid, C_MREMAP, num(a[4]), end, ok, seq, line);
	} else if (!strcmp(name, "brk") && n >= 1) {
		long mm = mm_of(t);
		unsigned long want = num(a[0]), prev = mms[mm].brk;

		if (want && prev && PA(want) < PA(prev))
			expect(tid, C_BRK, PA(want), PA(prev),
			       ok && ret == want, seq, line);
		else if (want && !prev) /* cannot tell: not required */
			expect(tid, C_BRK, PA(want), ANY_END, false, seq, line);
		if (ok)
			mms[mm].brk = ret;
	} else if (!strcmp(name, "shmat") && n >= 3) {
		unsigned long addr = num(a[1]);

		f = num(a[2]);
		if (f & 020000) /* SHM_RND */
			addr &= ~(PAGE - 1);
		if ((f & 040000) && addr) /* SHM_REMAP */
			expect(tid, C_SHMAT, addr, ANY_END, ok, seq, line);
	} else if (!strcmp(name, "shmdt") && n >= 1) {
		expect(tid, C_SHMDT, num(a[0]), ANY_END, ok && !ret, seq, line);
	} else if (!strcmp(name, "process_madvise") && n >= 4) {
		const char *p = a[1];

		if (!advice_counts(num(a[3])))
			return;
		while ((p = strstr(p, "iov_base="))) {
			unsigned long base = num(p + 9), len;
			const char *q = strstr(p, "iov_len=");

			if (!q)
				break;
			len = num(q + 8);
			if (page_range(base, len, &end))
				expect(tid, C_PMADVISE, base, end, ok, seq,
				       line);
			p = q;
		}
	}
}

/* A call made a thread or a process: note how. */
static void note_clone(long parent, const char *name, char *args,
		       unsigned long ret, bool ok)
{
	const char *p = strstr(args, "flags=");
	unsigned long flags = p ? strtoul(p + 6, NULL, 0) : 0;
	struct task *c;

	if (!ok || !ret)
		return;
	if (!strcmp(name, "vfork"))
		flags = 0x100;
	else if (!strcmp(name, "fork"))
		flags = 0;
	c = task((long)ret);
	if (!c->known) {
		c->known = true;
		c->parent = parent;
		c->flags = flags;
	}
}

struct line {
	long tid;
	char *text; /* "name(args) = ret ..." */
};

static struct line *lines;
static size_t nlines, caplines;

/* Read the log, joining "<unfinished ...>" to "<... resumed>". */
static void read_log(const char *path)
{
	char *buf = NULL, **held = NULL;
	long *held_tid = NULL;
	size_t cap = 0, nheld = 0, i;
	FILE *f = fopen(path, "r");

	if (!f) {
		perror(path);
		exit(2);
	}
	while (getline(&buf, &cap, f) > 0) {
		char *s, *text;
		long tid = strtol(buf, &s, 10);

		buf[strcspn(buf, "\n")] = '\0';
		while (*s == ' ')
			s++;
		if (!*s || !strncmp(s, "---", 3) || !strncmp(s, "+++", 3) ||
		    *s == '[')
			continue;
		if (!strncmp(s, "<... ", 5)) {
			char *rest = strstr(s, " resumed>");

			for (i = 0; i < nheld; i++)
				if (held_tid[i] == tid)
					break;
			if (!rest || i == nheld)
				continue;
			rest += 9;
			text = malloc(strlen(held[i]) + strlen(rest) + 1);
			sprintf(text, "%s%s", held[i], rest);
			free(held[i]);
			held[i] = held[--nheld];
			held_tid[i] = held_tid[nheld];
		} else {
			char *u = strstr(s, " <unfinished ...>");

			if (u) {
				*u = '\0';
				held = realloc(held,
					       (nheld + 1) * sizeof(*held));
				held_tid = realloc(held_tid,
						   (nheld + 1) * sizeof(long));
				held[nheld] = strdup(s);
				held_tid[nheld++] = tid;
				continue;
			}
			text = strdup(s);
		}
		lines = grow(lines, &caplines, nlines, sizeof(*lines));
		lines[nlines++] = (struct line){ tid, text };
	}
	free(buf);
	fclose(f);
}

/* name, args (in place) and the result of a completed call. */
static bool parse_call(char *text, char **name, char **args, unsigned long *ret,
		       bool *ok)
{
	char *open = strchr(text, '('), *eq, *p;

	if (!open)
		return false;
	/* The result follows the last ")", spaces, "= ". */
	for (eq = NULL, p = text; (p = strstr(p, " = ")); p++)
		eq = p;
	if (!eq)
		return false;
	p = eq + 3;
	while (eq > open && *eq == ' ')
		eq--;
	if (*eq != ')')
		return false;
	*open = '\0';
	*eq = '\0';
	*name = text;
	*args = open + 1;
	if (*p == '?') {
		*ok = false;
		*ret = 0;
		return true;
	}
	*ret = strtoul(p, NULL, 0);
	*ok = strncmp(p, "-1 ", 3) && strcmp(p, "-1");
	return true;
}

static long root;

static bool watched(struct task *t)
{
	long first_child = 0;
	size_t i;

	while (t) {
		if (t->tid == root)
			return false;
		if (t->parent == root) {
			for (i = 0; i < ntasks; i++)
				if (tasks[i].parent == root &&
				    (!first_child ||
				     tasks[i].tid < first_child))
					first_child = tasks[i].tid;
			return t->tid == first_child;
		}
		if (!t->parent)
			return false;
		t = task(t->parent);
	}
	return false;
}

static int cmp_exp(const void *x, const void *y)
{
	const struct expect *a = x, *b = y;

	if (a->tid != b->tid)
		return a->tid < b->tid ? -1 : 1;
	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static bool json_str(const char *s, const char *key, char *out, size_t size)
{
	char pat[32];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	p = strstr(s, pat);
	if (!p)
		return false;
	p += strlen(pat);
	e = strchr(p, '"');
	if (!e || (size_t)(e - p) >= size)
		return false;
	memcpy(out, p, e - p);
	out[e - p] = '\0';
	return true;
}

static long json_num(const char *s, const char *key)
{
	char pat[32];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(s, pat);
	return p ? strtol(p + strlen(pat), NULL, 10) : -1;
}

int main(int argc, char **argv)
{
	unsigned long required[C_COUNT] = { 0 }, matched[C_COUNT] = { 0 };
	unsigned long hooked[C_COUNT] = { 0 };
	unsigned long n_req = 0, n_match = 0, n_extra = 0, n_idle = 0;
	unsigned long n_hooks = 0;
	bool expect_misses = argc > 4 && !strcmp(argv[4], "--expect-misses");
	char *buf = NULL, src[32], start[32], end[32], call[32];
	size_t cap = 0, i, k;
	int shown = 0;
	FILE *f;

	if (argc < 4) {
		fprintf(stderr,
			"usage: %s LABEL STRACE_LOG JSON "
			"[--expect-misses]\n",
			argv[0]);
		return 2;
	}
	read_log(argv[2]);
	if (!nlines) {
		fprintf(stderr, "%s: an empty strace log\n", argv[2]);
		return 2;
	}
	root = lines[0].tid;
	/* First pass: who made whom. */
	for (i = 0; i < nlines; i++) {
		char *copy = strdup(lines[i].text), *name, *args;
		unsigned long ret;
		bool ok;

		task(lines[i].tid);
		if (parse_call(copy, &name, &args, &ret, &ok) &&
		    (!strcmp(name, "clone") || !strcmp(name, "clone3") ||
		     !strcmp(name, "fork") || !strcmp(name, "vfork")))
			note_clone(lines[i].tid, name, args, ret, ok);
		free(copy);
	}
	for (i = 0; i < ntasks; i++)
		tasks[i].watched = watched(&tasks[i]);
	/* Second pass: the calls, in the order they completed. */
	for (i = 0; i < nlines; i++) {
		char *copy = strdup(lines[i].text), *name, *args, *a[8];
		struct task *t = task(lines[i].tid);
		unsigned long ret;
		bool ok;
		int n;

		if (!parse_call(copy, &name, &args, &ret, &ok)) {
			free(copy);
			continue;
		}
		if (!strcmp(name, "execve") && ok) {
			mm_of(t);
			t = task(lines[i].tid);
			t->mm = new_mm(0);
		} else if (t->watched) {
			n = split_args(args, a, 8);
			expect_call(lines[i].tid, name, a, n, ret, ok, (long)i,
				    lines[i].text);
		} else {
			/* umn-watch's own brk still counts for its child. */
			n = split_args(args, a, 8);
			if (!strcmp(name, "brk") && ok)
				mms[mm_of(t)].brk = ret;
		}
		free(copy);
	}
	qsort(exp_, nexp, sizeof(*exp_), cmp_exp);

	f = fopen(argv[3], "r");
	if (!f) {
		perror(argv[3]);
		return 2;
	}
	while (getline(&buf, &cap, f) > 0) {
		struct expect key = { 0 }, *e = NULL;
		unsigned long s, en;
		size_t lo = 0, hi = nexp;

		if (!json_str(buf, "source", src, sizeof(src)) ||
		    !strcmp(src, "uffd"))
			continue;
		if (!json_str(buf, "start", start, sizeof(start)) ||
		    !json_str(buf, "end", end, sizeof(end)) ||
		    !json_str(buf, "call", call, sizeof(call)))
			continue;
		s = strtoul(start, NULL, 16);
		en = strtoul(end, NULL, 16);
		key.tid = json_num(buf, "tid");
		key.start = s;
		key.seq = -1;
		while (lo < hi) { /* the first of (tid, start) */
			size_t mid = (lo + hi) / 2;

			if (cmp_exp(&exp_[mid], &key) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (k = lo;
		     k < nexp && exp_[k].tid == key.tid && exp_[k].start == s;
		     k++) {
			if (!exp_[k].used &&
			    !strcmp(call_names[exp_[k].call], call) &&
			    (exp_[k].end == en || exp_[k].end == ANY_END)) {
				e = &exp_[k];
				break;
			}
		}
		if (e) {
			e->used = true;
			e->hooks = !strcmp(src, "hooks");
			continue;
		}
		n_extra++;
		if (shown++ < 10)
			printf("  extra: %s", buf);
	}
	free(buf);
	fclose(f);

	for (i = 0; i < nexp; i++) {
		if (!exp_[i].required) {
			n_idle += exp_[i].used;
			continue;
		}
		n_req++;
		required[exp_[i].call]++;
		if (exp_[i].used) {
			n_match++;
			n_hooks += exp_[i].hooks;
			hooked[exp_[i].call] += exp_[i].hooks;
			matched[exp_[i].call]++;
		} else if (shown++ < 20) {
			printf("  unmatched: %ld %s\n", exp_[i].tid,
			       exp_[i].line);
		}
	}
	printf("%s: strace calls %lu, matched %lu, unmatched %lu, extra %lu;",
	       argv[1], n_req, n_match, n_req - n_match, n_extra);
	for (i = 0; i < C_COUNT; i++)
		if (required[i])
			printf(" %s %lu/%lu (hooks %lu)", call_names[i],
			       matched[i], required[i], hooked[i]);
	printf("; of the matched, the hooks told %lu; records of calls that "
	       "failed or changed nothing: %lu\n",
	       n_hooks, n_idle);
	if (expect_misses)
		return n_req > n_match ? 0 : 1;
	return n_req == n_match && !n_extra ? 0 : 1;
}
