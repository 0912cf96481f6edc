// SPDX-License-Identifier: MIT
/*
 * umn-watch's records: what the program's libumn-watch.so sends (one
 * tab-separated record per invalidation, process image, failure or exit),
 * turned into lines on standard error, JSON lines and the summary's
 * tallies.  The hooks' records of a supervised program wait here for the
 * supervisor's notification of the same call (watch-supervisor.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "watch.h"

/* Counts for one row of the summary. */
struct tally {
	char name[24];
	unsigned long count;
	unsigned long long bytes;
};

#define TALLY_ROWS 24

struct table {
	const char *title;
	struct tally rows[TALLY_ROWS];
	int n;
};

static struct table by_call = { .title = "by call" };
static struct table by_source = { .title = "by source" };
static struct table by_event = { .title = "by event" };

static struct {
	unsigned long events;
	unsigned long long bytes;
	unsigned long images; /* S records: process images watched */
	unsigned long failed; /* F records */
	unsigned long exits;  /* X records */
	unsigned long brackets[2], ranges, refused, overflows;
} total;

bool quiet;
FILE *json;

static void tally_add(struct table *t, const char *name,
		      unsigned long long bytes)
{
	struct tally *row = NULL;
	int i;

	for (i = 0; i < t->n; i++) {
		if (!strcmp(t->rows[i].name, name)) {
			row = &t->rows[i];
			break;
		}
	}
	if (!row) {
		/* The last row collects whatever does not fit. */
		row = &t->rows[t->n < TALLY_ROWS ? t->n++ : TALLY_ROWS - 1];
		if (t->n == TALLY_ROWS && row->count)
			name = "(other)";
		snprintf(row->name, sizeof(row->name), "%s", name);
	}
	row->count++;
	row->bytes += bytes;
}

static const char *human(unsigned long long bytes, char *buf, size_t size)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = bytes;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0 || v >= 100 || v == (unsigned long long)v)
		snprintf(buf, size, "%.0f %s", v, units[u]);
	else
		snprintf(buf, size, "%.1f %s", v, units[u]);
	return buf;
}

/* A JSON string of a record field: printable ASCII, escaped. */
static void json_str(const char *key, const char *s, bool comma)
{
	fprintf(json, "\"%s\":\"", key);
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			fprintf(json, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(json, "\\u%04x", c);
		else
			fputc(c, json);
	}
	fprintf(json, "\"%s", comma ? "," : "");
}

/* Split a record at its tabs; return the number of fields. */
static int split(char *rec, char **field, int max)
{
	int n = 0;

	while (n < max) {
		field[n++] = rec;
		rec = strchr(rec, '\t');
		if (!rec)
			break;
		*rec++ = '\0';
	}
	return n;
}

void emit_event(const struct ev *e)
{
	unsigned long long bytes = e->end > e->start ? e->end - e->start : 0;
	char size[32], tid[24];

	total.events++;
	total.bytes += bytes;
	tally_add(&by_call, e->call, bytes);
	tally_add(&by_source, e->source, bytes);
	tally_add(&by_event, e->event, bytes);
	if (!quiet) {
		if (e->tid)
			snprintf(tid, sizeof(tid), "%ld", e->tid);
		else
			snprintf(tid, sizeof(tid), "-");
		fprintf(stderr,
			"umn-watch: %ld/%s %-7s %-7s %#lx-%#lx %s %s%s\n",
			e->pid, tid, e->call, e->event, e->start, e->end,
			human(bytes, size, sizeof(size)), e->source,
			e->syscall[0] && strcmp(e->source, "seccomp")
				? "+seccomp"
				: "");
	}
	if (json) {
		fprintf(json, "{\"pid\":%ld,\"tid\":%ld,", e->pid, e->tid);
		fprintf(json, "\"start\":\"%#lx\",\"end\":\"%#lx\",", e->start,
			e->end);
		fprintf(json, "\"bytes\":%llu,", bytes);
		json_str("event", e->event, true);
		json_str("umn_event", e->umn_event, true);
		json_str("call", e->call, true);
		json_str("source", e->source, true);
		json_str("syscall", e->syscall, false);
		fprintf(json, "}\n");
	}
}

/*
 * The hooks' records wait here for the supervisor's notification of the
 * same call (same thread, call and start), which comes after them.
 */
#define PENDING_MAX 1024

static struct ev pending[PENDING_MAX];
static int npending;
bool supervised;
struct sup_stats sup;

/* Take pending[i] out of the queue. */
static struct ev pending_remove(int i)
{
	struct ev e = pending[i];

	npending--;
	memmove(&pending[i], &pending[i + 1],
		(npending - i) * sizeof(pending[0]));
	return e;
}

static void pending_flush(int i)
{
	struct ev e = pending_remove(i);

	sup.unmerged++;
	emit_event(&e);
}

bool pending_take(long own_tid, unsigned long start, const char *call,
		  struct ev *e)
{
	int i;

	for (i = 0; i < npending; i++) {
		if (pending[i].tid == own_tid && pending[i].start == start &&
		    !strcmp(pending[i].call, call)) {
			*e = pending_remove(i);
			return true;
		}
	}
	return false;
}

void pending_flush_all(void)
{
	while (npending)
		pending_flush(0);
}

static void event_record(char **f)
{
	struct ev e = {
		.pid = strtol(f[1], NULL, 10),
		.tid = strtol(f[2], NULL, 10),
		.start = strtoul(f[3], NULL, 16),
		.end = strtoul(f[4], NULL, 16),
	};

	snprintf(e.umn_event, sizeof(e.umn_event), "%s", f[5]);
	snprintf(e.event, sizeof(e.event), "%s", f[6]);
	snprintf(e.call, sizeof(e.call), "%s", f[7]);
	snprintf(e.source, sizeof(e.source), "%s", f[8]);
	if (!supervised || strcmp(e.source, "hooks") || !e.tid) {
		emit_event(&e);
		return;
	}
	if (npending == PENDING_MAX)
		pending_flush(0);
	pending[npending++] = e;
}

/* S: a process image is watched, with these sources. */
static void image_record(char **f)
{
	static const char *const names[] = { "none", "hooks", "uffd",
					     "hooks,uffd" };

	total.images++;
	if (!quiet)
		fprintf(stderr, "umn-watch: %s (%s): watching, sources %s\n",
			f[1], f[3], names[atoi(f[2]) & 3]);
}

/* F: umn could not start in a process image. */
static void failure_record(char **f)
{
	total.failed++;
	fprintf(stderr, "umn-watch: %s: %s: %s; not watched\n", f[1], f[3],
		strerror(atoi(f[2])));
}

/* X: a process image's umn counters, at its exit. */
static void exit_record(char **f)
{
	total.exits++;
	total.brackets[0] += strtoul(f[2], NULL, 10);
	total.brackets[1] += strtoul(f[3], NULL, 10);
	total.ranges += strtoul(f[4], NULL, 10);
	total.refused += strtoul(f[5], NULL, 10);
	total.overflows += strtoul(f[6], NULL, 10);
}

/* The records libumn-watch.so sends: a letter and the number of fields. */
static const struct {
	char type;
	int nfields;
	void (*take)(char **f);
} record_kinds[] = {
	{ 'E', 9, event_record },
	{ 'S', 4, image_record },
	{ 'F', 4, failure_record },
	{ 'X', 7, exit_record },
};

/* One record from the program. */
static void record(char *rec)
{
	char *f[10];
	size_t i;
	int n;

	rec[strcspn(rec, "\n")] = '\0';
	n = split(rec, f, 10);
	for (i = 0; i < sizeof(record_kinds) / sizeof(record_kinds[0]); i++) {
		if (rec[0] == record_kinds[i].type &&
		    n == record_kinds[i].nfields) {
			record_kinds[i].take(f);
			return;
		}
	}
	fprintf(stderr, "umn-watch: a record not understood: %s\n", rec);
}

static void print_table(const struct table *t)
{
	char size[32];
	int i;

	if (!t->n)
		return;
	fprintf(stderr, "  %-11s", t->title);
	for (i = 0; i < t->n; i++)
		fprintf(stderr, "%s%s %lu (%s)", i ? ", " : "", t->rows[i].name,
			t->rows[i].count,
			human(t->rows[i].bytes, size, sizeof(size)));
	fputc('\n', stderr);
}

void summary(void)
{
	char size[32];

	fprintf(stderr,
		"umn-watch: summary: %lu process image%s watched, %lu "
		"invalidation%s, %s\n",
		total.images, total.images == 1 ? "" : "s", total.events,
		total.events == 1 ? "" : "s",
		human(total.bytes, size, sizeof(size)));
	print_table(&by_call);
	print_table(&by_source);
	print_table(&by_event);
	if (total.exits)
		fprintf(stderr,
			"  umn:       brackets hooks %lu, uffd %lu; uffd ranges "
			"registered %lu, refused %lu, queue overflows %lu\n",
			total.brackets[0], total.brackets[1], total.ranges,
			total.refused, total.overflows);
	if (supervised)
		fprintf(stderr,
			"  supervisor: %lu system calls stopped; ranges: %lu "
			"told by the hooks too, %lu by the supervisor alone; "
			"%lu hook records matched no system call; %lu calls "
			"not made (the caller died or a signal came)\n",
			sup.stopped, sup.merged, sup.alone, sup.unmerged,
			sup.vanished);
	if (!total.images && !total.failed)
		fprintf(stderr,
			"umn-watch: the program never loaded libumn-watch.so "
			"(statically linked? set-user-ID?): %s\n",
			supervised ? "only the supervisor watched it"
				   : "nothing was watched");
}

bool drain(int fd)
{
	char buf[512];
	ssize_t n;

	for (;;) {
		n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK;
		if (n == 0)
			return false;
		buf[n] = '\0';
		record(buf);
	}
}
